// A real Spring Boot 4 service traced by Micrometer Tracing (Brave), built from interop/spring-tracing, between a Node
// downstream and a real Zipkin: the W3C trace context it receives goes on to Node, its spans reach Zipkin, and its
// /actuator/prometheus counts the request, the Spring side of what Trellis's own tracing and metrics must match.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startZipkin, type Zipkin } from '@trellis/kit/zipkin-server';
import { afterAll, describe, expect, it } from 'vitest';
import { readTrace } from '../../kit/test/support/zipkin-trace.ts';
import { eventually, killAll, setUpReported } from './support/jvm.ts';
import { startTracingApp, type TracingApp } from './support/tracing-app.ts';

const TEST_TIMEOUT_MS = 60_000;
const work = mkdtempSync(join(tmpdir(), 'trellis-spring-tracing-'));

/** What the Node downstream saw of each call Spring made to it. */
const downstreamCalls: IncomingHttpHeaders[] = [];
let downstream: Server | undefined;
let zipkin: Zipkin | undefined;
let spring: TracingApp | undefined;

async function setUp(): Promise<{ zipkin: Zipkin; spring: TracingApp }> {
  downstream = createServer((req, res) => {
    downstreamCalls.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('pong from node');
  });
  await new Promise<void>((resolve) => downstream?.listen(0, '127.0.0.1', resolve));
  const address = downstream.address();
  if (address === null || typeof address === 'string') throw new Error('the downstream has no port');
  zipkin = await startZipkin();
  spring = await startTracingApp({
    zipkinSpansUrl: zipkin.spansUrl,
    downstreamUrl: `http://127.0.0.1:${address.port}/pong`,
    work,
  });
  return { zipkin, spring };
}

const setUpReport = setUpReported(setUp);
const started = setUpReport.started;

afterAll(async () => {
  await spring?.stop();
  await zipkin?.stop();
  await new Promise<void>((resolve) => (downstream === undefined ? resolve() : downstream.close(() => resolve())));
  killAll();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('set-up', { timeout: TEST_TIMEOUT_MS }, () => {
  it('starts Zipkin, a Node downstream and the traced Spring app', () => {
    const failure = setUpReport.failure();
    if (failure !== undefined) throw failure;
    expect(spring?.jvm.child.exitCode).toBeNull();
  });
});

describe('GET /hello with a W3C traceparent', { timeout: TEST_TIMEOUT_MS }, () => {
  const traceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  let answer: unknown;

  it('answers with the downstream body, and passes the same trace id to the downstream in a traceparent', async () => {
    const { spring } = started();
    const res = await fetch(`${spring.url}/hello`, { headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } });
    answer = await res.json();
    expect(res.status).toBe(200);
    expect(answer).toEqual({ from: 'spring', downstream: 'pong from node' });
    const sent = downstreamCalls.at(-1)?.traceparent;
    expect(sent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, sentTrace, sentSpan] = String(sent).split('-');
    expect(sentTrace).toBe(traceId);
    // Spring's own client span, not the caller's: W3C never shares a span id across a hop.
    expect(sentSpan).not.toBe(callerSpanId);
  });

  it("reports Spring's server span to Zipkin as spring-tracing, a child of the caller's span", async () => {
    const { zipkin, spring } = started();
    expect(answer).toBeDefined();
    // Brave reports in the background (AsyncReporter flushes each second): poll until both spans are in.
    const spans = await eventually(
      `trace ${traceId} in Zipkin with a server and a client span`,
      async () => {
        const trace = (await readTrace(zipkin.url, traceId))?.spans;
        if (trace === undefined) return undefined;
        return trace.some((s) => s.kind === 'SERVER') && trace.some((s) => s.kind === 'CLIENT') ? trace : undefined;
      },
      { app: spring.jvm },
    );
    const server = spans.find((s) => s.kind === 'SERVER');
    expect(server).toMatchObject({
      traceId,
      parentId: callerSpanId,
      localEndpoint: { serviceName: 'spring-tracing' },
    });
    expect(server?.name).toMatch(/\/hello/);
    const client = spans.find((s) => s.kind === 'CLIENT');
    expect(client?.parentId).toBe(server?.id);
    expect(downstreamCalls.at(-1)?.traceparent).toBe(`00-${traceId}-${client?.id}-01`);
  });

  it('counts the request in /actuator/prometheus as http_server_requests_seconds_count with uri="/hello"', async () => {
    const { spring } = started();
    expect(answer).toBeDefined();
    const res = await fetch(`${spring.url}/actuator/prometheus`);
    expect(res.status).toBe(200);
    const counts = (await res.text()).split('\n').filter((l) => l.startsWith('http_server_requests_seconds_count{'));
    const hello = counts.find((l) => l.includes('uri="/hello"'));
    expect(hello).toBeDefined();
    expect(Number(hello?.split(' ').at(-1))).toBeGreaterThanOrEqual(1);
  });
});
