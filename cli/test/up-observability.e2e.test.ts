// The landscape's observability end to end: `trellis up --tracing zipkin` starts a real Zipkin, walkthrough step 5
// through the gateway leaves one trace gateway → composite → core services (and step 8's events join the composite's
// trace), every component serves /actuator/prometheus, and a real Prometheus scraping them all finds each request rate.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { acceptsConnections } from '@trellis/kit';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortsEnv } from '../../kit/test/support/landscape.ts';
import { clientCredentialsToken } from '../../kit/test/support/oauth.ts';
import { startPrometheus, type Prometheus } from '../../kit/test/support/prometheus.ts';
import { traceSpans, type ZipkinSpan } from '../../kit/test/support/zipkin-trace.ts';
import { main } from '../src/main.ts';

const CONFIG_REPO = resolve(import.meta.dirname, '../../config-repo');
/** Every component of the landscape, as the summary and Zipkin (lowercased) name them. */
const COMPONENTS = [
  'registry',
  'config-server',
  'auth-server',
  'gateway',
  'product-composite',
  'product',
  'recommendation',
  'review',
] as const;
const CORE = ['product', 'recommendation', 'review'] as const;

let dataDir: string;
let out = '';
let err = '';
const codes: number[] = [];
let ca: Agent;
let token = '';
let prometheus: Prometheus | undefined;

/** The component's first URL in the summary; the config server's is HTTPS only. */
function url(name: string): string {
  const line = out.split('\n').find((l) => l.startsWith(`  ${name} `)) ?? '';
  const found = line.split(/ +/).find((u) => /^https?:\/\//.test(u));
  if (found === undefined) throw new Error(`no URL for ${name} in:\n${out}`);
  return found;
}

function zipkinUrl(): string {
  const found = /tracing: Zipkin (http:\/\/\S+) started for this landscape/.exec(out)?.[1];
  if (found === undefined) throw new Error(`no Zipkin in the summary:\n${out}`);
  return found;
}

async function get(target: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await request(target, { headers, dispatcher: ca });
  return { status: res.statusCode, text: await res.body.text() };
}

/** A W3C traceparent from a caller of our own: a trace id the test chose and the caller's span id. */
function caller(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const service = (s: ZipkinSpan): string => s.localEndpoint?.serviceName ?? '';

/**
 * Polls Zipkin until `done` holds for the trace (spans arrive about a second after they end); at the timeout, what
 * it has, for the assertions to describe.
 */
function traceUntil(traceId: string, done: (spans: readonly ZipkinSpan[]) => boolean): Promise<ZipkinSpan[]> {
  return traceSpans(zipkinUrl(), traceId, { until: done, timeoutMs: 30_000, intervalMs: 200, resolveOnTimeout: true });
}

/** What a trace holds, one line per span, for a failure message. */
const describeTrace = (spans: readonly ZipkinSpan[]): string =>
  spans.map((s) => `${service(s)} ${s.kind ?? 'LOCAL'} ${s.name ?? ''} ${s.id}←${s.parentId ?? '-'}`).join('\n');

/** Whether `ancestor` is `span` itself or above it, without leaving the span's own service. */
function withinUnder(spans: readonly ZipkinSpan[], span: ZipkinSpan, ancestor: ZipkinSpan): boolean {
  const byId = new Map(spans.map((s) => [s.id, s]));
  for (let at: ZipkinSpan | undefined = span; at !== undefined; at = byId.get(at.parentId ?? '')) {
    if (at.id === ancestor.id) return true;
    if (service(at) !== service(span)) return false;
  }
  return false;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-up-observability-'));
  await main(
    ['up', '--data-dir', dataDir, '--tracing', 'zipkin', '--zipkin-port', '0', '--log-level', 'silent'],
    { ...freePortsEnv(), CONFIG_REPO },
    {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      exit: (code) => void codes.push(code),
    },
  );
  if (!out.includes('Trellis is up')) throw new Error(`landscape did not start: ${err}${out}`);
  ca = new Agent({ connect: { ca: await readFile(join(dataDir, 'tls', 'ca.pem'), 'utf8') } });
  const secret = /development client writer \/ (\S+)/.exec(out)?.[1] ?? '';
  token = await clientCredentialsToken(
    { issuer: url('auth-server'), clientId: 'writer', secret },
    'product:read product:write',
  );
  // The gateway routes lb://product-composite once the composite is registered: wait for its first 200.
  for (let i = 0; i < 150; i++) {
    const res = await get(`${url('gateway')}/product-composite/1`, { authorization: `Bearer ${token}` });
    if (res.status === 200) break;
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  if (codes.length === 0) process.emit('SIGTERM');
  for (let i = 0; i < 200 && codes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await ca.close();
  await rm(dataDir, { recursive: true, force: true });
}, 30_000);

describe('trellis up --tracing zipkin: one trace per request, across the landscape', () => {
  it('follows walkthrough step 5 from the gateway through the composite to each core service', async () => {
    const from = caller();
    const res = await get(`${url('gateway')}/product-composite/1`, {
      authorization: `Bearer ${token}`,
      traceparent: from.traceparent,
    });
    expect(res.status).toBe(200);

    // The gateway's server span ends last, so it reaches Zipkin last: wait for every service's server span.
    const spans = await traceUntil(from.traceId, (all) =>
      ['gateway', 'product-composite', ...CORE].every((name) =>
        all.some((s) => service(s) === name && s.kind === 'SERVER'),
      ),
    );
    const trace = describeTrace(spans);
    expect(new Set(spans.map(service)), trace).toEqual(
      new Set(['gateway', 'product-composite', 'product', 'recommendation', 'review']),
    );
    // gateway SERVER (child of our caller) → gateway CLIENT → composite SERVER.
    const gatewayServer = spans.find((s) => service(s) === 'gateway' && s.kind === 'SERVER');
    expect(gatewayServer?.parentId, trace).toBe(from.spanId);
    const gatewayClient = spans.find((s) => service(s) === 'gateway' && s.kind === 'CLIENT');
    expect(gatewayClient, trace).toBeDefined();
    expect(withinUnder(spans, gatewayClient!, gatewayServer!), trace).toBe(true);
    const compositeServer = spans.find((s) => service(s) === 'product-composite' && s.kind === 'SERVER');
    expect(compositeServer?.parentId, trace).toBe(gatewayClient?.id);
    // composite SERVER → its CLIENT spans → each core service's SERVER span.
    const compositeClients = spans.filter((s) => service(s) === 'product-composite' && s.kind === 'CLIENT');
    for (const name of CORE) {
      const server = spans.find((s) => service(s) === name && s.kind === 'SERVER');
      const client = compositeClients.find((c) => c.id === server?.parentId);
      expect(client, `${name}'s server span is a child of a composite client span:\n${trace}`).toBeDefined();
      expect(withinUnder(spans, client!, compositeServer!), trace).toBe(true);
    }
  }, 60_000);

  it("carries the trace of step 8's POST into the core services' consumers of its events", async () => {
    const from = caller();
    const productId = 4242;
    const body = JSON.stringify({
      productId,
      name: 'Espalier frame',
      weight: 7,
      recommendations: [{ recommendationId: 1, author: 'Ada', rate: 5, content: 'Tidy' }],
      reviews: [{ reviewId: 1, author: 'Grace', subject: 'Neat', content: 'Easy to train along' }],
    });
    const res = await request(`${url('gateway')}/product-composite`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        traceparent: from.traceparent,
      },
      body,
      dispatcher: ca,
    });
    await res.body.text();
    expect(res.statusCode).toBe(202);

    const spans = await traceUntil(
      from.traceId,
      (all) =>
        CORE.every((name) => all.some((s) => service(s) === name && s.kind === 'CONSUMER')) &&
        all.some((s) => service(s) === 'gateway' && s.kind === 'SERVER'),
    );
    const trace = describeTrace(spans);
    const gatewayServer = spans.find((s) => service(s) === 'gateway' && s.kind === 'SERVER');
    expect(gatewayServer?.parentId, trace).toBe(from.spanId);
    const compositeServer = spans.find((s) => service(s) === 'product-composite' && s.kind === 'SERVER');
    const producers = spans.filter((s) => service(s) === 'product-composite' && s.kind === 'PRODUCER');
    for (const producer of producers) expect(withinUnder(spans, producer, compositeServer!), trace).toBe(true);
    expect(producers.length, trace).toBeGreaterThanOrEqual(1);
    for (const name of CORE) {
      const consumer = spans.find((s) => service(s) === name && s.kind === 'CONSUMER');
      expect(consumer, `${name} consumed its event in the composite's trace:\n${trace}`).toBeDefined();
      expect(
        producers.map((p) => p.id),
        trace,
      ).toContain(consumer?.parentId);
    }
  }, 60_000);
});

describe('trellis up: every component answers Prometheus', () => {
  it('serves http_server_requests_seconds_count at /actuator/prometheus on every component', async () => {
    for (const name of COMPONENTS) {
      const res = await get(`${url(name)}/actuator/prometheus`);
      expect(res.status, name).toBe(200);
      expect(res.text, name).toMatch(/^http_server_requests_seconds_count\{/m);
      expect(res.text, name).toContain(`application="${name}"`);
    }
  });

  it("lets a real Prometheus scrape them all and find each one's request rate", async () => {
    const caFile = join(dataDir, 'tls', 'ca.pem');
    prometheus = await startPrometheus({
      targets: COMPONENTS.map((name) => ({ job: name, url: url(name), caFile })),
    });
    const promql = 'sum by (application) (increase(http_server_requests_seconds_count[1m]))';
    let found = new Set<string>();
    for (let i = 0; i < 60 && found.size < COMPONENTS.length; i++) {
      // Each round makes a request of every component, so each has a rate to find between two scrapes.
      for (const name of COMPONENTS) await get(`${url(name)}/actuator/health`);
      await new Promise((r) => setTimeout(r, 500));
      const samples = await prometheus.query(promql);
      found = new Set(samples.filter((s) => Number(s.value[1]) > 0).map((s) => s.metric.application ?? ''));
    }
    expect([...found].sort()).toEqual([...COMPONENTS].sort());
  }, 60_000);
});

describe('trellis up: stopping', () => {
  it('stops everything on SIGTERM, the Zipkin it started too', async () => {
    const zipkin = new URL(zipkinUrl());
    await prometheus?.stop();
    prometheus = undefined;
    process.emit('SIGTERM');
    for (let i = 0; i < 200 && codes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(codes).toEqual([0]);
    expect(await acceptsConnections(zipkin.hostname, Number(zipkin.port))).toBe(false);
  }, 30_000);
});
