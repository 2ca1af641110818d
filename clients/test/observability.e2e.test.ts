// The SDK clients' meters and spans over real sockets: a kit service calling another through the real registry, its
// spans read back from a real Zipkin and its http_client_requests_seconds and resilience4j_* meters from its scrape.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZipkin, type Zipkin } from '@trellis/kit/zipkin-server';
import {
  context,
  createLogger,
  createObservability,
  createService,
  loadSettings,
  trace,
  type ObservabilitySettings,
  type Service,
} from '@trellis/kit';
import { registryComponent } from '../../registry/src/index.ts';
import { createDiscoveryClient } from '../src/discovery/client.ts';
import { createLoadBalancedHttp } from '../src/discovery/http.ts';
import { registerService } from '../src/discovery/register-service.ts';
import { createResilience } from '../src/resilience/registry.ts';
import { eventually } from './discovery/helpers.ts';
import { sampleValue } from '../../kit/test/support/scrape.ts';
import { traceSpans, zipkinObservability } from '../../kit/test/support/zipkin-trace.ts';

const silent = createLogger({ name: 'test', level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];

async function scrape(service: Service): Promise<string> {
  const res = await fetch(`${service.endpoints[0]?.url}/actuator/prometheus`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('discovery HTTP client observed', () => {
  let zipkin: Zipkin;
  beforeAll(async () => {
    zipkin = await startZipkin();
  }, 120_000);
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await zipkin?.stop();
  });

  const observed = (): ObservabilitySettings => zipkinObservability(zipkin.spansUrl);

  it('sends the caller’s trace to the callee, reports server → client → server in one Zipkin trace, and times the call by template', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-obs-'));
    const settings = loadSettings(registryComponent.settings, {
      argv: ['--port', '0', '--data-dir', dataDir, '--log-level', 'silent', '--metrics', 'false'],
    });
    const registry = await registryComponent.start(settings, { logger: silent, env: {} });
    cleanups.push(async () => {
      await registry.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    const eureka = `${registry.endpoints[0]?.url}/eureka/`;

    const review = createService({
      name: 'review',
      logger: silent,
      git: false,
      observability: await createObservability('review', observed()),
    });
    const received: (string | undefined)[] = [];
    review.app.get('/review', (c) => {
      received.push(c.req.header('traceparent'));
      return c.json([{ productId: Number(c.req.query('productId')) }]);
    });
    await review.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => review.stop());
    const reg = registerService(review, { registryUrl: eureka, hostName: '127.0.0.1', ipAddr: '127.0.0.1' });
    await reg.whenSynced();

    const composite = createService({
      name: 'composite',
      logger: silent,
      git: false,
      observability: await createObservability('composite', observed()),
    });
    // Clients made in the service's scope record into its meters and tracer.
    const { discovery, http } = composite.inScope(() => {
      const discovery = createDiscoveryClient({ registryUrl: eureka, logger: silent });
      return { discovery, http: createLoadBalancedHttp({ discovery, logger: silent }) };
    });
    cleanups.push(() => discovery.stop());
    cleanups.push(() => http.close());
    await discovery.start();
    await eventually(() => discovery.getInstances('REVIEW').length > 0, 10_000, 'REVIEW in the cache');
    composite.app.get('/composite/:id', async (c) => {
      const res = await http.request(`http://review/review?productId=${c.req.param('id')}`, {
        uriTemplate: '/review?productId={productId}',
        // A trace header forwarded from elsewhere must not travel beside ours.
        headers: { traceparent: '00-11111111111111111111111111111111-2222222222222222-01', 'x-extra': 'kept' },
      });
      const reviews: unknown = await res.body.json();
      return c.json({ traceId: trace.getSpan(context.active())?.spanContext().traceId, reviews });
    });
    await composite.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => composite.stop());

    const res = await fetch(`${composite.endpoints[0]?.url}/composite/7`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { traceId: string; reviews: unknown };
    expect(body.reviews).toEqual([{ productId: 7 }]);
    expect(body.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(received).toHaveLength(1);
    expect(received[0]?.split('-')[1]).toBe(body.traceId);

    await composite.observability.tracing?.flush();
    await review.observability.tracing?.flush();
    // Whatever has arrived by then: the assertions below say which span is missing.
    const spans = await traceSpans(zipkin.url, body.traceId, { atLeast: 3, timeoutMs: 10_000, resolveOnTimeout: true });
    const callerServer = spans.find((s) => s.kind === 'SERVER' && s.localEndpoint?.serviceName === 'composite');
    const client = spans.find((s) => s.kind === 'CLIENT');
    const calleeServer = spans.find((s) => s.kind === 'SERVER' && s.localEndpoint?.serviceName === 'review');
    expect(callerServer?.name).toBe('get /composite/{id}');
    expect(client).toMatchObject({
      name: 'get',
      parentId: callerServer?.id,
      localEndpoint: { serviceName: 'composite' },
    });
    expect(client?.tags).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': String(review.endpoints[0]?.port),
      'url.full': `http://127.0.0.1:${review.endpoints[0]?.port}/review`,
      'http.response.status_code': '200',
    });
    expect(calleeServer?.parentId).toBe(client?.id);
    expect(received[0]?.split('-')[2]).toBe(client?.id);

    const text = await scrape(composite);
    const labels = { client_name: 'review', uri: '/review?productId={productId}', method: 'GET', status: '200' };
    expect(
      sampleValue(text, 'http_client_requests_seconds_count', { ...labels, outcome: 'SUCCESS', exception: 'none' }),
    ).toBe(1);
    expect(text).not.toContain('uri="/review?productId=7"');
  }, 60_000);

  it('times a call no instance answered as CLIENT_ERROR with the exception, and sends nothing without observability', async () => {
    const caller = createService({
      name: 'caller',
      logger: silent,
      git: false,
      observability: await createObservability('caller', {
        ...observed(),
        tracing: { ...observed().tracing, exporter: 'none' },
      }),
    });
    await caller.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => caller.stop());
    // A port nobody listens on: a stopped service's.
    const gone = createService({ name: 'gone', logger: silent, git: false });
    await gone.listen({ port: 0, host: '127.0.0.1' });
    const port = gone.endpoints[0]?.port;
    await gone.stop();
    const http = caller.inScope(() =>
      createLoadBalancedHttp({ discovery: { getInstances: () => [] }, logger: silent }),
    );
    cleanups.push(() => http.close());
    await expect(http.request(`http://127.0.0.1:${port}/x`)).rejects.toMatchObject({ code: 'unreachable' });
    const text = await scrape(caller);
    expect(
      sampleValue(text, 'http_client_requests_seconds_count', {
        client_name: '127.0.0.1',
        uri: 'none',
        status: 'CLIENT_ERROR',
        outcome: 'UNKNOWN',
      }),
    ).toBe(1);
  });
});

describe('resilience meters', () => {
  it('shows an opened breaker, its refusals, retries and time-limiter outcomes under Resilience4j’s names', async () => {
    const service = createService({
      name: 'guarded',
      logger: silent,
      git: false,
      observability: await createObservability('guarded', {
        metrics: true,
        tracing: { exporter: 'none', zipkinEndpoint: '', otlpEndpoint: '', samplingProbability: 0, propagation: 'w3c' },
      }),
    });
    let served = 0;
    service.app.get('/flaky', (c) => {
      served++;
      return c.text('down', 500);
    });
    await service.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => service.stop());
    const base = service.endpoints[0]?.url ?? '';
    const resilience = service.inScope(() =>
      createResilience({
        config: {
          circuitbreaker: { instances: { flaky: { slidingWindowSize: 2, minimumNumberOfCalls: 2 } } },
          retry: { instances: { flaky: { maxAttempts: 1 } } },
          timelimiter: { instances: { flaky: { timeoutDuration: '2s' } } },
          bulkhead: { instances: { flaky: { maxConcurrentCalls: 4 } } },
        },
      }),
    );
    cleanups.push(() => resilience.close());
    const call = (): Promise<number> =>
      resilience.execute('flaky', async ({ signal }) => {
        const res = await fetch(`${base}/flaky`, { signal });
        await res.text();
        if (res.status >= 500) throw new Error(`HTTP ${res.status}`);
        return res.status;
      });
    await expect(call()).rejects.toThrow('HTTP 500');
    await expect(call()).rejects.toThrow('HTTP 500');
    await expect(call()).rejects.toMatchObject({ code: 'call_not_permitted' });
    expect(served).toBe(2);

    const text = await scrape(service);
    expect(sampleValue(text, 'resilience4j_circuitbreaker_state', { name: 'flaky', state: 'open' })).toBe(1);
    expect(sampleValue(text, 'resilience4j_circuitbreaker_state', { name: 'flaky', state: 'closed' })).toBe(0);
    expect(sampleValue(text, 'resilience4j_circuitbreaker_failure_rate', { name: 'flaky' })).toBe(100);
    expect(sampleValue(text, 'resilience4j_circuitbreaker_buffered_calls', { name: 'flaky', kind: 'failed' })).toBe(2);
    expect(
      sampleValue(text, 'resilience4j_circuitbreaker_calls_seconds_count', { name: 'flaky', kind: 'failed' }),
    ).toBe(2);
    expect(
      sampleValue(text, 'resilience4j_circuitbreaker_calls_seconds_count', { name: 'flaky', kind: 'successful' }),
    ).toBe(0);
    expect(
      sampleValue(text, 'resilience4j_circuitbreaker_not_permitted_calls_total', {
        name: 'flaky',
        kind: 'not_permitted',
      }),
    ).toBe(1);
    expect(sampleValue(text, 'resilience4j_retry_calls_total', { name: 'flaky', kind: 'failed_without_retry' })).toBe(
      3,
    );
    expect(sampleValue(text, 'resilience4j_timelimiter_calls_total', { name: 'flaky', kind: 'failed' })).toBe(2);
    expect(sampleValue(text, 'resilience4j_bulkhead_max_allowed_concurrent_calls', { name: 'flaky' })).toBe(4);
    expect(sampleValue(text, 'resilience4j_bulkhead_available_concurrent_calls', { name: 'flaky' })).toBe(4);
    // Every series carries the service's application tag, as Spring's do.
    expect(text).toMatch(/resilience4j_circuitbreaker_state\{[^}]*application="guarded"/);
  });
});
