// A kit service exporting over OTLP/HTTP to a real OpenTelemetry Collector: its server span arrives whole, and a
// collector that is gone costs the service nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FlatSpan, type OtelCollector, startOtelCollector } from '@trellis/kit/otel-collector';
import { createObservability } from '../src/index.ts';
import { createService } from '../src/service.ts';
import { captureLogger } from './support/logger.ts';

const TRACE_ID = '5af7183fb1d4cf5f2b5a0c1e8d9e7f01';
const PARENT_SPAN = '7a3c5e9b1d2f4a60';
const SERVER = 2;

async function startDemo(otlpEndpoint: string) {
  const log = captureLogger('info');
  const service = createService({
    name: 'demo',
    logger: log.logger,
    git: false,
    observability: await createObservability('demo', {
      metrics: false,
      tracing: {
        exporter: 'otlp',
        otlpEndpoint,
        zipkinEndpoint: '',
        samplingProbability: 1,
        propagation: 'w3c',
        exportDelayMs: 100,
      },
    }),
  });
  service.app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
  const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
  return { service, base: endpoint.url, log };
}

/** The collector's spans once one matches (the file exporter writes every 100 ms). */
async function spanWhere(collector: OtelCollector, match: (span: FlatSpan) => boolean): Promise<FlatSpan> {
  for (let i = 0; i < 100; i++) {
    const found = (await collector.spans()).find(match);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the span did not reach the collector within 10 s');
}

describe('OTLP export to a real OpenTelemetry Collector', () => {
  let collector: OtelCollector;
  let demo: Awaited<ReturnType<typeof startDemo>>;

  // The first run builds the collector from the Go module proxy (about 2 minutes); later runs start it in milliseconds.
  beforeAll(async () => {
    collector = await startOtelCollector();
    demo = await startDemo(collector.tracesUrl);
  }, 900_000);
  afterAll(async () => {
    await demo?.service.stop();
    await collector?.stop();
  });

  it('listens on loopback only, at /v1/traces of its receiver', () => {
    expect(collector.tracesUrl).toBe(`http://127.0.0.1:${collector.port}/v1/traces`);
  });

  it("delivers the request's SERVER span continuing the caller's W3C trace, with the service name and route", async () => {
    const res = await fetch(`${demo.base}/items/7`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` } });
    expect(res.status).toBe(200);
    await demo.service.observability.tracing?.flush();
    const span = await spanWhere(collector, (s) => s.traceId === TRACE_ID && s.kind === SERVER);
    expect(span).toMatchObject({ traceId: TRACE_ID, parentSpanId: PARENT_SPAN, kind: SERVER, serviceName: 'demo' });
    expect(span.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(span.spanId).not.toBe(PARENT_SPAN);
    expect(span.attributes['http.route']).toBe('/items/{id}');
  });

  it('keeps answering, without delay, once the collector is gone, and stops with a warning, not an error', async () => {
    await collector.stop();
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${demo.base}/items/${i}`, {
        headers: { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` },
        signal: AbortSignal.timeout(5_000),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ id: String(i) });
    }
    // Requests never wait for an export: twenty take far less than one export's timeout (10 s).
    expect(Date.now() - started).toBeLessThan(3_000);
    // The spans still queued fail to send at shutdown, which logs it and stops anyway, once the OTLP exporter's
    // retries give up (about 8.5 s: its 10 s export timeout bounds them).
    const stopping = Date.now();
    await demo.service.stop();
    expect(Date.now() - stopping).toBeLessThan(15_000);
    expect(demo.log.lines.find((l) => l.msg === 'sending the last spans failed')).toMatchObject({ level: 40 });
  }, 30_000);
});
