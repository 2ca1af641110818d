// The time limiter over a real socket: the upstream must see its connection closed, not just the caller give up.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLoadBalancedHttp } from '../../src/discovery/http.ts';
import { ResilienceError } from '../../src/resilience/errors.ts';
import { withResilience } from '../../src/resilience/http.ts';
import { createResilience } from '../../src/resilience/registry.ts';
import { TimeLimiter } from '../../src/resilience/time-limiter.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server that takes requests and never answers, telling when a request's connection closes. */
async function silentServer(): Promise<{ port: number; seen: Promise<void>; closed: Promise<number> }> {
  let markSeen!: () => void;
  let markClosed!: (at: number) => void;
  const seen = new Promise<void>((r) => (markSeen = r));
  const closed = new Promise<number>((r) => (markClosed = r));
  const server = http.createServer((req) => {
    markSeen();
    req.socket.once('close', () => markClosed(performance.now()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  return { port: (server.address() as AddressInfo).port, seen, closed };
}

describe('time limiter on a real request', () => {
  it('aborts the socket of a request that outlives timeoutDuration', async () => {
    const upstream = await silentServer();
    const resilience = createResilience({
      config: {
        timelimiter: { instances: { slow: { timeoutDuration: '150ms' } } },
        retry: { instances: { slow: { maxAttempts: 1 } } },
      },
    });
    const lb = createLoadBalancedHttp({
      discovery: { getInstances: () => [] },
      logger: captureLogger().logger,
      timeoutMs: 30_000,
    });
    cleanups.push(() => lb.close());
    const client = withResilience(lb, resilience, { instanceName: () => 'slow' });
    const started = performance.now();
    const err = await client.request(`http://127.0.0.1:${upstream.port}/never`).catch((e: unknown) => e);
    const gaveUpAfter = performance.now() - started;
    expect(err).toBeInstanceOf(ResilienceError);
    expect((err as ResilienceError).code).toBe('timeout');
    expect((err as ResilienceError).status).toBe(504);
    expect(gaveUpAfter).toBeGreaterThanOrEqual(140);
    expect(gaveUpAfter).toBeLessThan(2000);
    await upstream.seen;
    // The server sees the client close the connection, well before undici's own 30 s timeout.
    const closedAt = await Promise.race([upstream.closed, new Promise<number>((r) => setTimeout(() => r(-1), 2000))]);
    expect(closedAt).toBeGreaterThan(0);
    expect(resilience.circuitBreaker('slow').metrics().failedCalls).toBe(1);
  });

  it('counts a 5xx answer as a breaker failure and still hands the response over', async () => {
    const server = http.createServer((_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('busy'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const resilience = createResilience({ config: { retry: { configs: { default: { maxAttempts: 1 } } } } });
    const lb = createLoadBalancedHttp({ discovery: { getInstances: () => [] }, logger: captureLogger().logger });
    cleanups.push(() => lb.close());
    const client = withResilience(lb, resilience);
    const port = (server.address() as AddressInfo).port;
    const res = await client.request(`http://127.0.0.1:${port}/x`);
    expect(res.status).toBe(503);
    expect(await res.body.text()).toBe('busy');
    // Direct URLs are named host:port; application URLs by the application.
    const breaker = resilience.circuitBreaker(`127.0.0.1:${port}`);
    expect(breaker.metrics()).toMatchObject({ bufferedCalls: 1, failedCalls: 1 });
  });

  it('leaves the request alone with cancelRunningFuture false, while still answering timeout', async () => {
    const limiter = new TimeLimiter({ name: 'x', settings: { timeoutDurationMs: 50, cancelRunningFuture: false } });
    let seen: AbortSignal | undefined;
    const err = await limiter
      .execute((signal) => {
        seen = signal;
        return new Promise((r) => setTimeout(r, 200));
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout' });
    expect(seen?.aborted).toBe(false);
  });

  it('passes on the caller’s abort as it is, not as a timeout', async () => {
    const limiter = new TimeLimiter({ name: 'x', settings: { timeoutDurationMs: 5000 } });
    const controller = new AbortController();
    const reason = new Error('caller went away');
    const p = limiter.execute(
      (signal) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))),
      controller.signal,
    );
    controller.abort(reason);
    expect(await p.catch((e: unknown) => e)).toBe(reason);
  });

  it('does not abort the signal when the call returns, so a response body can still be read', async () => {
    const limiter = new TimeLimiter({ name: 'x', settings: { timeoutDurationMs: 5000 } });
    let seen: AbortSignal | undefined;
    await limiter.execute((signal) => {
      seen = signal;
      return 'headers';
    });
    expect(seen?.aborted).toBe(false);
  });
});
