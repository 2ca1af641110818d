// Real sockets on port 0: upstream node:http servers the tests shape, and a gateway started as `trellis gateway` does.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, loadSettings, type Logger } from '@trellis/kit';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { gatewayConfig, gatewaySettings } from '../src/config.ts';
import { startGateway, type RunningGateway } from '../src/main.ts';

export const silent = createLogger({ name: 'test', level: 'silent', format: 'json' });

export interface Upstream {
  readonly port: number;
  readonly url: string;
  readonly server: http.Server;
  close(): Promise<void>;
}

export async function startUpstream(handler: http.RequestListener): Promise<Upstream> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** An upstream that answers with what it received, so tests can see what the gateway forwarded. */
export function echo(req: http.IncomingMessage, res: http.ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

export interface Echoed {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface TestGateway extends RunningGateway {
  readonly url: string;
  readonly port: number;
  /** `https://127.0.0.1:<port>` when started with `https: true`. */
  readonly httpsUrl: string | undefined;
  /** The gateway's data directory (the local CA is under tls/). */
  readonly dataDir: string;
  readonly routesFile: string;
  /** Rewrites the routes file (then POST /actuator/gateway/refresh to apply it). */
  writeRoutes(yaml: string): Promise<void>;
}

export async function startTestGateway(
  yaml: string,
  options: { argv?: string[]; env?: Record<string, string>; https?: boolean; dataDir?: string; logger?: Logger } = {},
): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-test-'));
  const dataDir = options.dataDir ?? dir;
  const routesFile = join(dir, 'routes.yml');
  await writeFile(routesFile, yaml);
  const settings = loadSettings(gatewaySettings(), {
    argv: [
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      ...(options.https === true ? ['--https-port', '0'] : ['--http-only']),
      '--data-dir',
      dataDir,
      '--routes-file',
      routesFile,
      ...(options.argv ?? []),
    ],
    env: {},
  });
  const running = await startGateway(gatewayConfig(settings, options.env ?? {}), options.logger ?? silent, {
    env: options.env ?? {},
    drainTimeoutMs: 2000,
  });
  const endpoint = running.endpoints.find((e) => e.protocol === 'http');
  if (endpoint === undefined) throw new Error('no endpoint');
  const secure = running.endpoints.find((e) => e.protocol === 'https');
  return {
    ...running,
    url: `http://127.0.0.1:${endpoint.port}`,
    port: endpoint.port,
    httpsUrl: secure === undefined ? undefined : `https://127.0.0.1:${secure.port}`,
    dataDir,
    routesFile,
    writeRoutes: (text) => writeFile(routesFile, text),
    stop: async () => {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const client = new Agent({ keepAliveTimeout: 1000 });

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  json<T = unknown>(): T;
}

export async function call(
  url: string,
  options: { method?: Dispatcher.HttpMethod; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const res = await undiciRequest(url, {
    dispatcher: client,
    method: options.method ?? 'GET',
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: <T>() => JSON.parse(text) as T,
  };
}

/** The management credential tests start gateways with (`--admin-auth`); without one the route API is not exposed. */
export const ADMIN_AUTH = 'basic:admin:test-admin-secret';
export const ADMIN_ARGV = ['--admin-auth', ADMIN_AUTH];
export const ADMIN_AUTHORIZATION = `Basic ${Buffer.from('admin:test-admin-secret').toString('base64')}`;

/** `call` with the management credential of ADMIN_AUTH, for /actuator/gateway/**. */
export function admin(url: string, options: Parameters<typeof call>[1] = {}): Promise<Answer> {
  return call(url, { ...options, headers: { ...options.headers, authorization: ADMIN_AUTHORIZATION } });
}

/** A port nobody listens on. */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls `check` every 25 ms until it holds; fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface RawAnswer {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/**
 * Sends bytes exactly as written on a connection of their own (no client normalizes or validates them first) and
 * reads the answer until the server closes or `waitMs` passes.
 */
export async function send(port: number, text: string, waitMs = 2000): Promise<RawAnswer> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  socket.write(text);
  let out = '';
  socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, waitMs))]);
  socket.destroy();
  const split = out.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0),
    head: split === -1 ? out : out.slice(0, split),
    body: split === -1 ? '' : out.slice(split + 4),
  };
}
