// Watch streams are capped (in total, and per credential or address) and give back everything they hold when they
// end: a pentest opened 4,000 streams with one limited credential and the process kept 600 MB after they closed.
import { getEventListeners } from 'node:events';
import { request, type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createService, type Running } from '@trellis/kit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createAccessControl } from '../src/access/clients.ts';
import { createApp, renderError } from '../src/app.ts';
import { createNativeBackend } from '../src/backends/native.ts';
import type { EnvironmentBackend } from '../src/backends/types.ts';
import { loadConfig } from '../src/config.ts';
import { silentLogger, startConfigServer, tempRepo } from './helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: a\n',
  'product.yml': 'port: 7001\n',
  'review.yml': 'port: 7003\n',
});
const data = tempRepo({});
const PRODUCT = { authorization: `Basic ${Buffer.from('product:product-secret').toString('base64')}` };
const REVIEW = { authorization: `Basic ${Buffer.from('review:review-secret').toString('base64')}` };
const CLIENTS = 'product:product-secret:product;review:review-secret:review';

const stops: (() => Promise<void>)[] = [];
const opened: Stream[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) s.close();
  for (const stop of stops.splice(0)) await stop();
});
afterAll(() => {
  repo.remove();
  data.remove();
});

interface Stream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body so far (a refusal's reason, or the events). */
  text(): string;
  close(): void;
}

/** Opens a stream on its own connection, so closing it closes the socket as a client going away would. */
function watch(base: string, path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('error', () => undefined);
      const stream: Stream = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        text: () => body,
        close: () => req.destroy(),
      };
      opened.push(stream);
      resolve(stream);
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function serve(argv: string[], env: Record<string, string> = {}): Promise<string> {
  const { running, url }: { running: Running; url: string } = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    argv,
    env,
  });
  stops.push(() => running.stop());
  return url;
}

describe('the cap on watch streams', () => {
  it('gives one credential at most its share, with 503, Retry-After and the reason; others still get theirs', async () => {
    const base = await serve(['--watch-max-streams', '3', '--watch-max-streams-per-client', '2'], {
      CONFIG_CLIENTS: CLIENTS,
    });
    const first = await watch(base, '/watch/product/default', PRODUCT);
    const second = await watch(base, '/watch/product/docker', PRODUCT);
    expect([first.status, second.status]).toEqual([200, 200]);
    const refused = await watch(base, '/watch/product/default', PRODUCT);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('30');
    await until(() => refused.text() !== '', 'the refusal body');
    expect((JSON.parse(refused.text()) as { message: string }).message).toBe(
      'this caller already has 2 open event streams (the most allowed); retry in 30 s, and fetch the environment meanwhile',
    );
    // Another credential is not locked out by product's streams, up to the total.
    expect((await watch(base, '/watch/review/default', REVIEW)).status).toBe(200);
    const full = await watch(base, '/watch/review/default', REVIEW);
    expect(full.status).toBe(503);
    await until(() => full.text() !== '', 'the refusal body');
    expect(full.text()).toContain('too many open event streams (3)');
    expect(full.text()).not.toContain('product');
    // A closed stream gives its slot back.
    first.close();
    let again: Stream | undefined;
    for (let i = 0; i < 100 && again?.status !== 200; i++) {
      again?.close();
      again = await watch(base, '/watch/product/default', PRODUCT);
      if (again.status !== 200) await sleep(20);
    }
    expect(again?.status).toBe(200);
  });

  it('refuses before taking a slot when the credential may not read the application', async () => {
    const base = await serve(['--watch-max-streams', '1'], { CONFIG_CLIENTS: CLIENTS });
    expect((await watch(base, '/watch/review/default', PRODUCT)).status).toBe(403);
    expect((await watch(base, '/watch/product/default')).status).toBe(401);
    expect((await watch(base, '/watch/product/default/nope', PRODUCT)).status).toBe(404);
    // None of those took the only slot.
    expect((await watch(base, '/watch/product/default', PRODUCT)).status).toBe(200);
  });

  it('gives each address its share when the server is open (no CONFIG_CLIENTS)', async () => {
    const base = await serve(['--watch-max-streams-per-client', '1']);
    expect((await watch(base, '/watch/product/default')).status).toBe(200);
    expect((await watch(base, '/watch/review/default')).status).toBe(503);
  });

  it('reads the caps and the write timeout from the settings, 1,000, 100 and 60 s by default', () => {
    const defaults = loadConfig({});
    expect([defaults.watchMaxStreams, defaults.watchMaxStreamsPerClient, defaults.watchWriteTimeout]).toEqual([
      1000, 100, 60,
    ]);
    const set = loadConfig({
      CONFIG_WATCH_MAX_STREAMS: '50',
      CONFIG_WATCH_MAX_STREAMS_PER_CLIENT: '5',
      CONFIG_WATCH_WRITE_TIMEOUT: '9',
    });
    expect([set.watchMaxStreams, set.watchMaxStreamsPerClient, set.watchWriteTimeout]).toEqual([50, 5, 9]);
    expect(() => loadConfig({ CONFIG_WATCH_MAX_STREAMS: '0' })).toThrow(/CONFIG_WATCH_MAX_STREAMS/);
  });
});

/** The native backend, counting its subscribers: each open stream holds one, and must give it back. */
function counted(backend: EnvironmentBackend): EnvironmentBackend & { readonly subscribers: number } {
  let subscribers = 0;
  const wrapped = Object.create(backend) as EnvironmentBackend & { readonly subscribers: number };
  Object.defineProperty(wrapped, 'subscribers', { get: () => subscribers });
  wrapped.subscribe = (listener) => {
    subscribers++;
    const off = backend.subscribe(listener);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      subscribers--;
      off();
    };
  };
  return wrapped;
}

async function listening(
  options: { watchWriteTimeoutMs?: number; heartbeatMs?: number; root?: string } = {},
): Promise<{ base: string; port: number; backend: ReturnType<typeof counted>; stopping: AbortSignal }> {
  const logger = silentLogger();
  const backend = counted(createNativeBackend({ root: options.root ?? repo.root, defaultLabel: 'main' }));
  const service = createService({ name: 'config-server', logger, git: false, renderError });
  createApp({
    logger,
    backend,
    service,
    access: createAccessControl([{ id: 'product', secret: 'product-secret', applications: ['product'] }]),
    ...(options.watchWriteTimeoutMs === undefined ? {} : { watchWriteTimeoutMs: options.watchWriteTimeoutMs }),
    ...(options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs }),
  });
  const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
  stops.push(async () => {
    await service.stop();
    await backend.close();
  });
  return {
    base: endpoint.url.replace('localhost', '127.0.0.1'),
    port: endpoint.port,
    backend,
    stopping: service.stopping,
  };
}

describe('a watch stream that ends', () => {
  it('leaves no listener behind on the backend or on the service (its closure would keep its snapshot alive)', async () => {
    const { base, backend, stopping } = await listening();
    const before = getEventListeners(stopping, 'abort').length;
    const streams: Stream[] = [];
    for (let i = 0; i < 20; i++) streams.push(await watch(base, '/watch/product/default', PRODUCT));
    expect(streams.every((s) => s.status === 200)).toBe(true);
    await until(() => backend.subscribers === 20, '20 subscribers');
    for (const s of streams) s.close();
    await until(() => backend.subscribers === 0, 'the subscribers to go');
    await sleep(50);
    expect(getEventListeners(stopping, 'abort').length).toBe(before);
  });

  it('is cut when its client stops reading, giving back its slot, listener and socket', async () => {
    // Key names travel on the stream: long ones make each change frame megabytes, which fills the socket buffers.
    const big = tempRepo({ 'product.yml': 'port: 1\n' });
    stops.push(() => Promise.resolve(big.remove()));
    const keys = (prefix: string): string =>
      Array.from({ length: 2000 }, (_, i) => `${prefix}${i}${'k'.repeat(500)}: 1\n`).join('');
    const { port, backend } = await listening({ watchWriteTimeoutMs: 300, root: big.root });
    const socket = net.connect(port, '127.0.0.1');
    stops.push(() => Promise.resolve(void socket.destroy()));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.on('error', () => undefined);
    socket.write(
      `GET /watch/product/default HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: ${PRODUCT.authorization}\r\n\r\n`,
    );
    socket.pause();
    await until(() => backend.subscribers === 1, 'the stream to subscribe');
    for (let round = 0; round < 12 && backend.subscribers > 0; round++) {
      big.write('product.yml', keys(round % 2 === 0 ? 'a' : 'b'));
      await sleep(400);
    }
    await until(() => backend.subscribers === 0, 'the stalled stream to be cut', 10_000);
    const closed = new Promise<string>((resolve) => socket.once('close', () => resolve('closed')));
    socket.resume();
    expect(await Promise.race([closed, sleep(3000).then(() => 'still open')])).toBe('closed');
  }, 30_000);
});
