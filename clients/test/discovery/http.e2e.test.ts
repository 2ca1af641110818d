// Load-balanced HTTP over real sockets to node:http instances; the instance list is fixed here (what the load
// balancer does with a list), the registry-fed version runs in registry.e2e.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../src/discovery/errors.ts';
import { createLoadBalancedHttp, type LoadBalancedHttp } from '../../src/discovery/http.ts';
import { isApplicationHost } from '../../src/discovery/names.ts';
import type { ServiceInstance } from '../../src/discovery/wire.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { instance, startScriptedServer, type Script, type ScriptedServer } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function upstream(name: string, script?: Script): Promise<ScriptedServer> {
  const s = await startScriptedServer(
    script ??
      ((req, res) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name, url: req.url }))),
  );
  cleanups.push(() => s.close());
  return s;
}

function at(app: string, port: number): ServiceInstance {
  return instance(app, `127.0.0.1:${app}:${port}`, { hostName: '127.0.0.1', port: { port, enabled: true } });
}

/** A port nobody listens on: a closed server's. */
async function deadPort(): Promise<number> {
  const s = await startScriptedServer(() => undefined);
  await s.close();
  return s.port;
}

function lbHttp(
  instances: Record<string, ServiceInstance[]>,
  options: { random?: () => number; timeoutMs?: number; retryOnNextInstance?: boolean } = {},
): LoadBalancedHttp {
  const http = createLoadBalancedHttp({
    discovery: { getInstances: (app) => instances[app.toUpperCase()] ?? [] },
    logger: captureLogger().logger,
    random: options.random ?? (() => 0),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.retryOnNextInstance === undefined ? {} : { retryOnNextInstance: options.retryOnNextInstance }),
  });
  cleanups.push(() => http.close());
  return http;
}

describe('isApplicationHost', () => {
  it('takes bare names for applications and anything with a dot, a port or localhost for a machine', () => {
    const app = (u: string) => isApplicationHost(new URL(u));
    expect(app('http://review/review?productId=1')).toBe(true);
    expect(app('http://product-composite/x')).toBe(true);
    expect(app('http://review:7003/x')).toBe(false);
    expect(app('http://review.internal/x')).toBe(false);
    expect(app('http://localhost/x')).toBe(false);
    expect(app('http://127.0.0.1/x')).toBe(false);
    expect(app('http://[::1]/x')).toBe(false);
  });
});

describe('createLoadBalancedHttp', () => {
  it('alternates between the UP instances of an application and reports which one answered', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    const http = lbHttp({ REVIEW: [at('review', a.port), at('review', b.port)] });
    const answers: string[] = [];
    const addresses: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await http.request('http://Review/review?productId=1');
      expect(res.status).toBe(200);
      answers.push(((await res.body.json()) as { name: string }).name);
      addresses.push(res.serviceAddress);
    }
    // random 0 -> start 0, incremented before use -> index 1 first.
    expect(answers).toEqual(['b', 'a', 'b', 'a']);
    expect(addresses[0]).toBe(`127.0.0.1:${b.port}`);
    expect(a.requests[0]?.url).toBe('/review?productId=1');
  });

  it('retries a refused connection once on the next instance, excluding the one tried', async () => {
    const alive = await upstream('alive');
    const dead = await deadPort();
    const http = lbHttp({ REVIEW: [at('review', alive.port), at('review', dead)] });
    for (let i = 0; i < 4; i++) {
      const res = await http.request('http://review/r');
      expect(res.status).toBe(200);
      expect(res.serviceAddress).toBe(`127.0.0.1:${alive.port}`);
      await res.body.dump();
    }
    expect(alive.requests).toHaveLength(4);
  });

  it('makes one attempt only with retryOnNextInstance: false, leaving retries to the caller', async () => {
    const busy = await upstream('busy', (_req, res) => res.writeHead(503).end('draining'));
    const ok = await upstream('ok');
    const dead = await deadPort();
    // random 0 -> index 1 first: the busy instance, then the dead one; the ok one would answer a retry.
    const http = lbHttp(
      { BUSY: [at('busy', ok.port), at('busy', busy.port)], DEAD: [at('dead', ok.port), at('dead', dead)] },
      { retryOnNextInstance: false },
    );
    const res = await http.request('http://busy/r');
    expect(res.status).toBe(503);
    expect(await res.body.text()).toBe('draining');
    const err = await http.request('http://dead/r').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unreachable', app: 'DEAD' });
    expect(ok.requests).toHaveLength(0);
  });

  it('gives up with "unreachable" after the retry, and "no_instances" when there is nobody to call', async () => {
    const http = lbHttp({ REVIEW: [at('review', await deadPort()), at('review', await deadPort())], EMPTY: [] });
    const err = await http.request('http://review/r').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiscoveryError);
    expect(err).toMatchObject({ code: 'unreachable', app: 'REVIEW', status: 502 });
    const none = await http.request('http://empty/r').catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'no_instances', app: 'EMPTY', status: 503, message: 'no UP instance of EMPTY' });
  });

  it('retries a 503 on the next instance for an idempotent method, and returns a lone 503 as it is', async () => {
    const busy = await upstream('busy', (_req, res) => res.writeHead(503).end('draining'));
    const ok = await upstream('ok');
    const http = lbHttp({ REVIEW: [at('review', ok.port), at('review', busy.port)], SOLO: [at('solo', busy.port)] });
    // random 0 -> index 1 (busy) first, then the retry on ok.
    const res = await http.request('http://review/r', {
      method: 'PUT',
      body: '{"x":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(200);
    expect(res.serviceAddress).toBe(`127.0.0.1:${ok.port}`);
    expect(ok.requests[0]?.body).toBe('{"x":1}');
    const solo = await http.request('http://solo/r');
    expect(solo.status).toBe(503);
    expect(await solo.body.text()).toBe('draining');
  });

  it('does not retry a POST that an instance may have seen, unless told; retries one that was never sent', async () => {
    const busy = await upstream('busy', (_req, res) => res.writeHead(503).end());
    const ok = await upstream('ok');
    const http = lbHttp({
      BUSY: [at('busy', ok.port), at('busy', busy.port)],
      TOLD: [at('told', ok.port), at('told', busy.port)],
      DEAD: [at('dead', ok.port), at('dead', await deadPort())],
    });
    const post = await http.request('http://busy/orders', { method: 'POST', body: '{}' });
    expect(post.status).toBe(503);
    expect(ok.requests).toHaveLength(0);
    // Each application has its own position: busy is first again, and this time the 503 is retried on ok.
    const told = await http.request('http://told/orders', { method: 'POST', body: '{}', retryNonIdempotent: true });
    expect(told.status).toBe(200);
    expect(busy.requests).toHaveLength(2);
    const refused = await http.request('http://dead/orders', { method: 'POST', body: '{"n":2}' });
    expect(refused.status).toBe(200);
    expect(ok.requests.map((r) => r.body)).toEqual(['{}', '{"n":2}']);
  });

  it('reports a slow instance as "timeout" without sending the request again elsewhere', async () => {
    const slow = await upstream('slow', () => undefined);
    const other = await upstream('other');
    const http = lbHttp({ REVIEW: [at('review', other.port), at('review', slow.port)] }, { timeoutMs: 200 });
    const err = await http.request('http://review/r').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout', status: 504 });
    expect(other.requests).toHaveLength(0);
  });

  it('sends URLs naming a machine straight there', async () => {
    const direct = await upstream('direct');
    const http = lbHttp({});
    const res = await http.request(`http://localhost:${direct.port}/x?y=1`);
    expect(res.status).toBe(200);
    expect(res.serviceAddress).toBe(`localhost:${direct.port}`);
    expect(res.instance).toBeUndefined();
    expect(direct.requests[0]?.url).toBe('/x?y=1');
  });
});
