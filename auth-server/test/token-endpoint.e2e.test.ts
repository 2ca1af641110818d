// The token endpoint's two ways in: `POST /oauth2/token` is handed to the provider on the node request (mount.ts,
// tokenEndpointInterceptor); the same request with a query, a chunked body or an absolute-form target goes through
// the app. Both must answer alike and keep what the app does for every provider request.
import { request } from 'node:http';
import { connect } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PROVIDER_BODY_LIMIT } from '../src/oidc/mount.ts';
import { capturingLogger, startServer, tempDir, type TestServer } from './helpers.ts';

const dir = tempDir();
const log = capturingLogger();
let server: TestServer;
let issuer: string;
let writer: string;

beforeAll(async () => {
  // Any Host admitted, as behind a proxy that forwards it: the provider must still write only the issuer's URLs.
  server = await startServer({ dataDir: dir.path, logger: log.logger, argv: ['--allowed-hosts', '*'] });
  writer = /development client writer \/ (\S+)/.exec((server.running.notes ?? []).join('\n'))?.[1] ?? '';
  const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as {
    issuer: string;
  };
  issuer = discovery.issuer;
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A request with what fetch will not send: another Host, an absolute-form target, a chunked body. */
function send(options: {
  method?: string;
  target?: string;
  headers?: Record<string, string>;
  body?: string;
  secret?: string;
}): Promise<Answer> {
  const credentials = Buffer.from(`writer:${options.secret ?? writer}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = request(
      server.url,
      {
        method: options.method ?? 'POST',
        path: options.target ?? '/oauth2/token',
        headers: {
          authorization: `Basic ${credentials}`,
          'content-type': 'application/x-www-form-urlencoded',
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    ).on('error', reject);
    req.end(options.body ?? 'grant_type=client_credentials&scope=product%3Aread');
  });
}

/** The access token's issuer, algorithm and type, after checking the answer is a token response. */
function issued(answer: Answer): { iss: unknown; alg: unknown; typ: unknown } {
  expect(answer.status, answer.body).toBe(200);
  expect(answer.headers['cache-control']).toBe('no-store');
  const token = (JSON.parse(answer.body) as { access_token: string }).access_token;
  const header = decodeProtectedHeader(token);
  return { iss: decodeJwt(token).iss, alg: header.alg, typ: header.typ };
}

describe('POST /oauth2/token, handed to the provider before the app', () => {
  it('issues the same token as the app path, from the configured issuer whatever Host and X-Forwarded-* name', async () => {
    const spoofed = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };
    const lean = issued(await send({ headers: spoofed }));
    const viaApp = [
      issued(await send({ headers: spoofed, target: '/oauth2/token?via=app' })),
      issued(await send({ headers: { ...spoofed, 'transfer-encoding': 'chunked' } })),
      issued(await send({ headers: spoofed, target: 'http://evil.example/oauth2/token' })),
    ];
    expect(lean).toEqual({ iss: issuer, alg: 'RS256', typ: 'JWT' });
    for (const answer of viaApp) expect(answer).toEqual(lean);
  });

  it('sets the request id and writes the request line, as the app does', async () => {
    const requestId = 'token-endpoint-test-0001';
    const answer = await send({ headers: { 'x-request-id': requestId } });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-request-id']).toBe(requestId);
    const line = log
      .text()
      .split('\n')
      .filter((l) => l.includes(requestId))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'request completed');
    expect(line).toMatchObject({
      reqId: requestId,
      req: { method: 'POST', url: '/oauth2/token' },
      res: { statusCode: 200 },
    });
    // A fresh id for a request without one.
    expect((await send({})).headers['x-request-id']).toMatch(/^[\w-]{8,}$/);
  });

  it("answers the provider's errors: a wrong secret, an unknown grant", async () => {
    const wrong = await send({ secret: 'not-the-secret' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toMatchObject({ error: 'invalid_client' });
    const grant = await send({ body: 'grant_type=password&username=a&password=b' });
    expect(grant.status).toBe(400);
    expect(JSON.parse(grant.body)).toMatchObject({ error: 'unsupported_grant_type' });
  });

  it('holds one body limit, 56 KiB, however the body is framed and on every OAuth endpoint', async () => {
    const sized = (bytes: number): string => {
      const head = 'grant_type=client_credentials&scope=product%3Aread&pad=';
      return head + 'x'.repeat(bytes - head.length);
    };
    const chunked = { 'transfer-encoding': 'chunked' };
    // At the limit: taken, with a content-length (the provider reads it) or chunked (the app reads it for it).
    expect((await send({ body: sized(PROVIDER_BODY_LIMIT) })).status).toBe(200);
    expect((await send({ body: sized(PROVIDER_BODY_LIMIT), headers: chunked })).status).toBe(200);
    // One byte over: the same 413 with a reason both ways, also at introspection.
    for (const answer of [
      await send({ body: sized(PROVIDER_BODY_LIMIT + 1) }),
      await send({ body: sized(PROVIDER_BODY_LIMIT + 1), headers: chunked }),
      await send({ body: sized(PROVIDER_BODY_LIMIT + 1), headers: chunked, target: '/oauth2/introspect' }),
    ]) {
      expect(answer.status).toBe(413);
      expect(JSON.parse(answer.body)).toMatchObject({
        error: 'invalid_request',
        error_description: /over 57344 bytes/,
      });
    }
  });

  it('writes one JSON line, not a stack on stderr, when a client leaves mid-body', async () => {
    const stderr = vi.spyOn(console, 'error');
    try {
      const credentials = Buffer.from(`writer:${writer}`).toString('base64');
      const port = new URL(server.url).port;
      const head = (framing: string): string =>
        `POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic ${credentials}\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\n${framing}\r\n\r\n`;
      // A content-length never met (the provider is reading), and a chunked body never finished (the app is).
      for (const partial of [
        `${head('Content-Length: 100')}grant_type=client_credentials`,
        `${head('Transfer-Encoding: chunked')}1d\r\ngrant_type=client_credentials\r\n`,
      ]) {
        const socket = connect(Number(port), '127.0.0.1');
        socket.write(partial);
        await new Promise((resolve) => setTimeout(resolve, 150));
        socket.resetAndDestroy();
        await new Promise((resolve) => socket.once('close', resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(stderr).not.toHaveBeenCalled();
      const lines = log
        .text()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { level: number; msg: string });
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      expect(lines.some((l) => l.msg === 'client connection ended before the answer')).toBe(true);
    } finally {
      stderr.mockRestore();
    }
    // And the server goes on issuing.
    expect((await send({})).status).toBe(200);
  });

  it("answers a path that only resolves to the endpoint (dot segments, encodings) with the kit's JSON 404", async () => {
    for (const target of [
      '/oauth2/./token',
      '/oauth2/%74oken',
      '/x/../oauth2/token',
      'http://localhost/x/../oauth2/token',
      '/oauth2/token/.',
    ]) {
      const answer = await send({ target });
      expect(answer.status, target).toBe(404);
      expect(JSON.parse(answer.body), target).toMatchObject({ error: 'not_found' });
    }
  });

  it('leaves other methods to the app: 405 with Allow', async () => {
    const answer = await send({ method: 'GET', body: '' });
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('POST');
  });
});
