// A kit service's meters at /actuator/prometheus and its spans in a real Zipkin, over sockets.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZipkin, type Zipkin } from '@trellis/kit/zipkin-server';
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';
import {
  context,
  createObservability,
  loadSettings,
  observabilityOf,
  observabilitySettings,
  ROOT_CONTEXT,
  trace,
  type ObservabilitySettings,
  type Propagation,
} from '../src/index.ts';
import { createService, type Service } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';
import { sampleValue } from './support/scrape.ts';
import { traceSpans } from './support/zipkin-trace.ts';

class InventoryMissingError extends Error {}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

/** A service with an item route, a failing route, a lean route and a route that reports the headers it would send on. */
async function startDemo(observability: ObservabilitySettings, logger = captureLogger('info').logger) {
  const service = createService({
    name: 'demo',
    logger,
    git: false,
    observability: await createObservability('demo', observability),
  });
  service.app.get('/items/:id', (c) => {
    c.var.log.info('looking the item up');
    return c.json({ id: c.req.param('id') });
  });
  service.app.get('/fail', () => {
    throw new InventoryMissingError('no inventory');
  });
  // What a client of this service would write on its outgoing call, from inside the request's span.
  service.app.get('/outgoing', (c) => {
    const headers: Record<string, string> = {};
    service.observability.tracing?.inject(headers);
    return c.json({ headers, active: trace.getSpan(context.active())?.spanContext().traceId ?? null });
  });
  service.leanRoute({
    method: 'PUT',
    uri: '/beats/{id}',
    answer: (req) => (req.path.startsWith('/beats/') ? { status: 200 } : undefined),
  });
  const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
  return { service, base: endpoint.url };
}

const metricsOnly: ObservabilitySettings = {
  metrics: true,
  tracing: { exporter: 'none', zipkinEndpoint: '', otlpEndpoint: '', samplingProbability: 0, propagation: 'w3c' },
};

describe('/actuator/prometheus', () => {
  let demo: { service: Service; base: string };

  beforeAll(async () => {
    demo = await startDemo(metricsOnly);
    for (const id of ['A-1', 'B-2']) expect((await fetch(`${demo.base}/items/${id}`)).status).toBe(200);
    expect((await fetch(`${demo.base}/fail`)).status).toBe(500);
    expect((await fetch(`${demo.base}/no/such/thing`)).status).toBe(404);
    expect((await fetch(`${demo.base}/beats/X-9`, { method: 'PUT' })).status).toBe(200);
    expect((await fetch(`${demo.base}/actuator/health`)).status).toBe(200);
  });
  afterAll(() => demo.service.stop());

  it("times each request under Micrometer's name and tags, by route template", async () => {
    const res = await fetch(`${demo.base}/actuator/prometheus`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const scrape = await res.text();
    const base = { application: 'demo', method: 'GET' };
    expect(
      sampleValue(scrape, 'http_server_requests_seconds_count', {
        ...base,
        uri: '/items/{id}',
        status: '200',
        outcome: 'SUCCESS',
        exception: 'none',
      }),
    ).toBe(2);
    expect(
      sampleValue(scrape, 'http_server_requests_seconds_count', {
        ...base,
        uri: '/fail',
        status: '500',
        outcome: 'SERVER_ERROR',
        exception: 'InventoryMissingError',
      }),
    ).toBe(1);
    expect(
      sampleValue(scrape, 'http_server_requests_seconds_count', {
        ...base,
        uri: 'NOT_FOUND',
        status: '404',
        outcome: 'CLIENT_ERROR',
      }),
    ).toBe(1);
    // The lean path and the node-level probes are timed too.
    expect(sampleValue(scrape, 'http_server_requests_seconds_count', { method: 'PUT', uri: '/beats/{id}' })).toBe(1);
    expect(sampleValue(scrape, 'http_server_requests_seconds_count', { uri: '/actuator/health' })).toBe(1);
    expect(sampleValue(scrape, 'http_server_requests_seconds_bucket', { uri: '/items/{id}', le: '+Inf' })).toBe(2);
    // Raw paths and ids never become label values.
    for (const raw of ['A-1', 'B-2', 'X-9', '/no/such/thing']) expect(scrape).not.toContain(raw);
    // Spring's process gauges, and Node's own.
    expect(scrape).toMatch(/^process_uptime_seconds\{application="demo"\} [\d.]+$/m);
    expect(scrape).toMatch(/^process_cpu_usage\{application="demo"\} [\d.e-]+$/m);
    expect(scrape).toMatch(/^nodejs_eventloop_lag_seconds\{application="demo"\} /m);
  });

  it("uses the label names and process gauges of a real Spring Boot app's scrape (recorded), so its dashboards work", async () => {
    const spring = await readFile(
      new URL('../../interop/spring-tracing/recorded/actuator-prometheus.txt', import.meta.url),
      'utf8',
    );
    const ours = await (await fetch(`${demo.base}/actuator/prometheus`)).text();
    const labelNames = (scrape: string, name: string): string[] => {
      const line = scrape.split('\n').find((l) => l.startsWith(`${name}{`)) ?? '';
      return [...line.matchAll(/(\w+)="/g)]
        .map((m) => m[1] ?? '')
        .filter((l) => l !== 'application')
        .sort();
    };
    const springLabels = labelNames(spring, 'http_server_requests_seconds_count');
    expect(springLabels).toContain('uri');
    expect(labelNames(ours, 'http_server_requests_seconds_count')).toEqual(springLabels);
    for (const gauge of [
      'process_cpu_usage',
      'process_uptime_seconds',
      'process_start_time_seconds',
      'process_files_open_files',
      'process_files_max_files',
      'system_cpu_count',
    ]) {
      expect(spring).toMatch(new RegExp(`^${gauge}[ {]`, 'm'));
      expect(ours).toMatch(new RegExp(`^${gauge}\\{application="demo"\\} [\\d.e+-]+$`, 'm'));
    }
  });

  it('answers OpenMetrics to a scraper that asks for it, as Prometheus does', async () => {
    const res = await fetch(`${demo.base}/actuator/prometheus`, {
      headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' },
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    expect(await res.text()).toMatch(/# EOF\n?$/);
  });

  it('names a method outside the standard ones _OTHER: each would make its own series of every route', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${demo.base}/items/1`, { method: 'PROPFIND' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(405);
    const scrape = await (await fetch(`${demo.base}/actuator/prometheus`)).text();
    expect(sampleValue(scrape, 'http_server_requests_seconds_count', { method: '_OTHER', uri: 'UNKNOWN' })).toBe(1);
    expect(scrape).not.toContain('PROPFIND');
  });

  it('answers a scraper that came through a proxy 403, unless --prometheus-access any', async () => {
    const proxied = await fetch(`${demo.base}/actuator/prometheus`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(proxied.status).toBe(403);
    expect(((await proxied.json()) as { message: string }).message).toMatch(/--prometheus-access any/);
    const open = await startDemo({ ...metricsOnly, prometheusAccess: 'any' });
    try {
      const res = await fetch(`${open.base}/actuator/prometheus`, { headers: { forwarded: 'for=203.0.113.9' } });
      expect(res.status).toBe(200);
    } finally {
      await open.service.stop();
    }
  });

  it('keeps the text format when the scraper refuses OpenMetrics (q=0)', async () => {
    const res = await fetch(`${demo.base}/actuator/prometheus`, {
      headers: { accept: 'application/openmetrics-text;q=0,text/plain;q=1' },
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('is not served with metrics off', async () => {
    const off = await startDemo({ ...metricsOnly, metrics: false });
    try {
      expect((await fetch(`${off.base}/actuator/prometheus`)).status).toBe(404);
    } finally {
      await off.service.stop();
    }
  });
});

describe('tracing settings', () => {
  it("take Spring Boot's variables and values", () => {
    const s = loadSettings(observabilitySettings(), {
      env: {
        TRELLIS_TRACING: 'zipkin',
        MANAGEMENT_TRACING_PROPAGATION_TYPE: 'B3_MULTI',
        MANAGEMENT_TRACING_SAMPLING_PROBABILITY: '1.0',
        MANAGEMENT_ZIPKIN_TRACING_ENDPOINT: 'http://zipkin.internal:9411/api/v2/spans',
      },
    });
    expect(observabilityOf(s).tracing).toMatchObject({
      exporter: 'zipkin',
      propagation: 'b3-multi',
      samplingProbability: 1,
      zipkinEndpoint: 'http://zipkin.internal:9411/api/v2/spans',
    });
    const boot4 = loadSettings(observabilitySettings(), {
      env: { MANAGEMENT_TRACING_EXPORT_ZIPKIN_ENDPOINT: 'http://zipkin.internal:9411/api/v2/spans' },
    });
    expect(boot4.zipkinEndpoint).toBe('http://zipkin.internal:9411/api/v2/spans');
    const defaults = observabilityOf(loadSettings(observabilitySettings(), { env: {} }));
    expect(defaults).toMatchObject({ metrics: true, tracing: { exporter: 'none', samplingProbability: 0.1 } });
  });

  it('refuse what is not a probability or a propagation type, naming the setting', () => {
    expect(() =>
      loadSettings(observabilitySettings(), { env: { MANAGEMENT_TRACING_SAMPLING_PROBABILITY: '1.5' } }),
    ).toThrow(/MANAGEMENT_TRACING_SAMPLING_PROBABILITY.*a number from 0 to 1/);
    expect(() => loadSettings(observabilitySettings(), { argv: ['--tracing-propagation', 'jaeger'] })).toThrow(
      /--tracing-propagation.*w3c, b3, b3-multi/,
    );
  });
});

describe('tracing into a real Zipkin', () => {
  let zipkin: Zipkin;
  const tracingWith = (propagation: Propagation, samplingProbability = 1): ObservabilitySettings => ({
    metrics: false,
    tracing: {
      exporter: 'zipkin',
      zipkinEndpoint: zipkin.spansUrl,
      otlpEndpoint: '',
      samplingProbability,
      propagation,
      exportDelayMs: 100,
    },
  });

  beforeAll(async () => {
    zipkin = await startZipkin();
  }, 120_000);
  afterAll(() => zipkin?.stop());

  it("continues a caller's W3C trace: the request's span, its log lines and its outgoing headers share the trace", async () => {
    const log = captureLogger('info');
    const demo = await startDemo(tracingWith('w3c'), log.logger);
    try {
      const res = await fetch(`${demo.base}/outgoing`, {
        headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` },
      });
      const body = (await res.json()) as { headers: Record<string, string>; active: string };
      expect(body.active).toBe(TRACE_ID);
      const [, traceId, spanId, flags] = body.headers.traceparent?.split('-') ?? [];
      expect(traceId).toBe(TRACE_ID);
      expect(spanId).not.toBe(PARENT_SPAN);
      expect(flags).toBe('01');

      await fetch(`${demo.base}/items/7`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` } });
      await demo.service.observability.tracing?.flush();
      const spans = await traceSpans(zipkin.url, TRACE_ID, { atLeast: 2, timeoutMs: 10_000 });
      const server = spans.find((s) => s.name === 'get /items/{id}');
      expect(server).toMatchObject({ kind: 'SERVER', parentId: PARENT_SPAN, localEndpoint: { serviceName: 'demo' } });
      expect(server?.tags?.['http.route']).toBe('/items/{id}');
      // The raw path (ids, perhaps a token, any length) is no attribute.
      expect(Object.keys(server?.tags ?? {})).not.toContain('url.path');
      // The service is the span's localEndpoint, not a tag repeated on every span (Spring's spans have none).
      expect(Object.keys(server?.tags ?? {})).not.toContain('service.name');
      expect(server?.tags?.['http.response.status_code']).toBe('200');
      const line = log.lines.find((l) => l.msg === 'looking the item up');
      expect(line).toMatchObject({ traceId: TRACE_ID });
      expect(line?.spanId).toMatch(/^[0-9a-f]{16}$/);
      // Outside any span nothing is added.
      log.logger.info('idle');
      expect(log.lines.at(-1)).not.toHaveProperty('traceId');
    } finally {
      await demo.service.stop();
    }
  });

  it("starts new traces sampled as OpenTelemetry's ratio sampler decides on their ids, with ids in the log lines of dropped ones too", async () => {
    const log = captureLogger('info');
    const demo = await startDemo(tracingWith('w3c', 0.5), log.logger);
    const sampler = new TraceIdRatioBasedSampler(0.5);
    try {
      const seen = new Map<string, string>();
      for (let i = 0; i < 64; i++) {
        const { headers } = (await (await fetch(`${demo.base}/outgoing`)).json()) as {
          headers: Record<string, string>;
        };
        const [, traceId = '', spanId, flags = ''] = headers.traceparent?.split('-') ?? [];
        expect(traceId).toMatch(/^[0-9a-f]{32}$/);
        expect(spanId).toMatch(/^[0-9a-f]{16}$/);
        const sampled = sampler.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
        expect(flags).toBe(sampled ? '01' : '00');
        seen.set(traceId, flags);
      }
      expect(seen.size).toBe(64);
      // Both decisions were taken (each has a chance of 2^-64 not to be).
      expect(new Set(seen.values())).toEqual(new Set(['00', '01']));
      // Every request's line carries its trace, sampled or not, as Micrometer puts the ids in the MDC of both.
      const logged = new Set(log.lines.filter((l) => l.msg === 'request completed').map((l) => l.traceId));
      for (const traceId of seen.keys()) expect(logged).toContain(traceId);
    } finally {
      await demo.service.stop();
    }
  });

  it('reads B3 from a caller and writes B3 (one header) when configured, as Micrometer Tracing does', async () => {
    const demo = await startDemo(tracingWith('b3'));
    try {
      const single = await fetch(`${demo.base}/outgoing`, { headers: { b3: `${TRACE_ID}-${PARENT_SPAN}-1` } });
      const { headers } = (await single.json()) as { headers: Record<string, string> };
      expect(headers.traceparent).toBeUndefined();
      expect(headers.b3).toMatch(new RegExp(`^${TRACE_ID}-[0-9a-f]{16}-1$`));
      const multi = await fetch(`${demo.base}/outgoing`, {
        headers: { 'X-B3-TraceId': TRACE_ID, 'X-B3-SpanId': PARENT_SPAN, 'X-B3-Sampled': '1' },
      });
      expect(((await multi.json()) as { active: string }).active).toBe(TRACE_ID);
    } finally {
      await demo.service.stop();
    }
  });

  it('writes X-B3-* headers with b3-multi, and keeps a caller’s decision not to sample', async () => {
    const demo = await startDemo(tracingWith('b3-multi'));
    try {
      const res = await fetch(`${demo.base}/outgoing`, {
        headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-00` },
      });
      const { headers } = (await res.json()) as { headers: Record<string, string> };
      expect(headers['x-b3-traceid']).toBe(TRACE_ID);
      expect(headers['x-b3-sampled']).toBe('0');
    } finally {
      await demo.service.stop();
    }
  });
});
