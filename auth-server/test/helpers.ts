import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, loadSettings, type Logger, type Running } from '@trellis/kit';
import * as client from 'openid-client';
import { authServerComponent } from '../src/main.ts';

export const silentLogger = (): Logger => createLogger({ name: 'test', level: 'silent' });

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'auth-server-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A logger at trace level whose JSON lines are kept, so tests can look for secrets in them. */
export function capturingLogger(): { logger: Logger; text(): string } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'trace', destination }), text: () => lines.join('') };
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestServer {
  readonly running: Running;
  readonly url: string;
  /** Calls the admin API. */
  admin(method: string, path: string, body?: unknown): Promise<Response>;
}

export async function startServer(options: {
  dataDir: string;
  logger?: Logger;
  argv?: readonly string[];
  env?: Record<string, string>;
}): Promise<TestServer> {
  const env = options.env ?? {};
  const settings = loadSettings(authServerComponent.settings, {
    argv: [
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--data-dir',
      options.dataDir,
      '--admin-token',
      ADMIN_TOKEN,
      ...(options.argv ?? []),
    ],
    env,
  });
  const running = await authServerComponent.start(settings, { logger: options.logger ?? silentLogger(), env });
  const url = running.endpoints[0]?.url ?? '';
  return {
    running,
    url,
    admin: (method, path, body) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
  };
}

/** openid-client's configuration for a client of our (plain HTTP, loopback) server. */
export function discover(url: string, clientId: string, secret?: string, method: 'basic' | 'post' = 'basic') {
  const auth =
    secret === undefined
      ? client.None()
      : method === 'basic'
        ? client.ClientSecretBasic(secret)
        : client.ClientSecretPost(secret);
  return client.discovery(new URL(url), clientId, undefined, auth, { execute: [client.allowInsecureRequests] });
}

/**
 * Lets fetch's connection pool see the FINs of a stopped server before a new one takes the same port; otherwise it
 * may reuse a half-closed keep-alive socket ("other side closed"), a client-side race unrelated to the server.
 */
export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 100));

/**
 * A request with headers fetch will not send (Host, which it always sets from the URL), answering status, Location
 * and body: for checking that what the server writes comes from its configured issuer, not from the request.
 */
export function rawRequest(
  url: string,
  options: {
    method?: 'GET' | 'POST';
    headers: Record<string, string>;
    body?: string;
    /** The request target as sent, e.g. an absolute-form `http://other.example/path`; default the URL's path. */
    target?: string;
  },
): Promise<{ status: number; location: string | undefined; body: string }> {
  const target = options.target === undefined ? {} : { path: options.target };
  return new Promise((resolve, reject) => {
    request(url, { method: options.method ?? 'GET', headers: options.headers, ...target }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    })
      .on('error', reject)
      .end(options.body);
  });
}

/** The relying party's landing page for browser tests: any path answers 200; `redirectUri` is its `/cb`. */
export async function startCallbackApp(): Promise<{ server: Server; redirectUri: string }> {
  const server = createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end('back at the app'),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, redirectUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb` };
}

/** The redirect URI of the public `web` client the sign-in tests register (nothing listens there). */
export const WEB_REDIRECT = 'http://127.0.0.1:1/cb';

/** Registers `web`, a public client for the code flow, through the admin API. */
export async function addWebClient(server: TestServer): Promise<void> {
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'web',
    redirect_uris: [WEB_REDIRECT],
    scope: 'openid',
    token_endpoint_auth_method: 'none',
  });
  if (created.status !== 201) throw new Error(`creating the web client answered ${created.status}`);
}

/**
 * Starts a sign-in for `web` and reads its login form: where to post, the CSRF value and the session cookies. With
 * `issuer`, the server is one instance of that issuer, and the locations it names (under the issuer) are followed on
 * this instance.
 */
export async function openLoginForm(
  serverUrl: string,
  issuer?: string,
): Promise<{ action: string; csrf: string; cookies: string }> {
  const local = (location: string): string =>
    issuer === undefined
      ? new URL(location, serverUrl).href
      : new URL(location, issuer).href.replace(issuer, serverUrl);
  const query = new URLSearchParams({
    client_id: 'web',
    response_type: 'code',
    scope: 'openid',
    redirect_uri: WEB_REDIRECT,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  const start = await fetch(`${serverUrl}/oauth2/authorize?${query.toString()}`, { redirect: 'manual' });
  const cookies = start.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const html = await (await fetch(local(start.headers.get('location') ?? ''), { headers: { cookie: cookies } })).text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  if (!action.endsWith('/login')) throw new Error('the sign-in did not lead to a login form');
  return { action: local(action), csrf, cookies };
}
