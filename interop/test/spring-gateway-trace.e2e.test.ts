// One trace across Java and Node in a real Zipkin: a caller → the Trellis gateway (Node) → a Spring Boot app traced by
// Micrometer Tracing (Brave) → a kit service (Node), each reporting its own spans, in W3C and in B3 (single header).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, createObservability, createService, loadSettings, type Service } from '@trellis/kit';
import { startZipkin, type Zipkin } from '@trellis/kit/zipkin-server';
import { gatewayConfig, gatewaySettings, startGateway, type RunningGateway } from '@trellis/gateway';
import { afterAll, describe, expect, it } from 'vitest';
import {
  readTrace,
  zipkinObservability,
  zipkinTracingFlags,
  type ZipkinSpan,
} from '../../kit/test/support/zipkin-trace.ts';
import { eventually, killAll, setUpReported } from './support/jvm.ts';
import { startTracingApp, type TracingApp } from './support/tracing-app.ts';

const TEST_TIMEOUT_MS = 60_000;
const silent = createLogger({ name: 'test', level: 'silent', format: 'json' });
const work = mkdtempSync(join(tmpdir(), 'trellis-spring-gateway-trace-'));

/** One path gateway → Spring → Node, every hop writing the same trace format. */
interface Chain {
  readonly gateway: RunningGateway;
  readonly gatewayUrl: string;
  readonly spring: TracingApp;
  readonly node: Service;
}

const PROPAGATIONS = [
  { trellis: 'w3c', spring: 'W3C', header: 'traceparent' },
  { trellis: 'b3', spring: 'B3', header: 'b3' },
] as const;
type Propagation = (typeof PROPAGATIONS)[number];

let zipkin: Zipkin | undefined;
const chains: Chain[] = [];

/** The Node end: a kit service traced to Zipkin that answers GET /pong. */
async function startNode(zipkin: Zipkin, p: Propagation): Promise<{ node: Service; url: string }> {
  const observability = await createObservability('node-downstream', zipkinObservability(zipkin.spansUrl, p.trellis));
  const node = createService({ name: 'node-downstream', logger: silent, observability, git: false });
  node.app.get('/pong', (c) => c.text('pong from node'));
  const endpoint = await node.listen({ port: 0, host: '127.0.0.1' });
  return { node, url: `http://127.0.0.1:${endpoint.port}` };
}

/** The gateway as `trellis gateway` runs it, with one static route to the Spring app. */
async function startEdge(zipkin: Zipkin, p: Propagation, springUrl: string): Promise<RunningGateway> {
  const dir = mkdtempSync(join(work, `gateway-${p.trellis}-`));
  const routesFile = join(dir, 'routes.yml');
  writeFileSync(
    routesFile,
    `spring.cloud.gateway.routes:\n- id: spring-hello\n  uri: ${springUrl}\n  predicates: [Path=/hello]\n`,
  );
  const settings = loadSettings(gatewaySettings(), {
    argv: [
      ...['--port', '0', '--host', '127.0.0.1', '--http-only', '--data-dir', dir, '--routes-file', routesFile],
      ...zipkinTracingFlags(zipkin.spansUrl),
      ...['--tracing-propagation', p.trellis],
    ],
    env: {},
  });
  return startGateway(gatewayConfig(settings), silent, { env: {}, drainTimeoutMs: 2000 });
}

async function setUp(): Promise<Chain[]> {
  zipkin = await startZipkin();
  for (const p of PROPAGATIONS) {
    const { node, url: nodeUrl } = await startNode(zipkin, p);
    const spring = await startTracingApp({
      zipkinSpansUrl: zipkin.spansUrl,
      downstreamUrl: `${nodeUrl}/pong`,
      propagation: p.spring,
      work: mkdtempSync(join(work, `spring-${p.trellis}-`)),
    });
    const gateway = await startEdge(zipkin, p, spring.url);
    const endpoint = gateway.endpoints.find((e) => e.protocol === 'http');
    if (endpoint === undefined) throw new Error('the gateway has no HTTP endpoint');
    chains.push({ gateway, gatewayUrl: `http://127.0.0.1:${endpoint.port}`, spring, node });
  }
  return chains;
}

const setUpReport = setUpReported(setUp);

afterAll(async () => {
  for (const chain of chains) {
    await chain.gateway.stop();
    await chain.spring.stop();
    await chain.node.stop();
  }
  await zipkin?.stop();
  killAll();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('set-up', { timeout: TEST_TIMEOUT_MS }, () => {
  it('starts Zipkin, and for each propagation a Node service, the traced Spring app and a gateway routing to it', () => {
    const failure = setUpReport.failure();
    if (failure !== undefined) throw failure;
    expect(chains.map((c) => c.spring.jvm.child.exitCode)).toEqual([null, null]);
  });
});

describe.each(PROPAGATIONS.map((p, index) => ({ ...p, index })))(
  'a call through the gateway with a $header header',
  { timeout: TEST_TIMEOUT_MS },
  ({ index, header, trellis }) => {
    it('is one trace in Zipkin: gateway (Node) → spring-tracing (Java) → node-downstream (Node), parent by parent', async () => {
      const chain = setUpReport.started()[index];
      if (chain === undefined || zipkin === undefined) throw new Error('no chain for this propagation');
      const traceId = randomBytes(16).toString('hex');
      const callerSpan = randomBytes(8).toString('hex');
      const value = trellis === 'w3c' ? `00-${traceId}-${callerSpan}-01` : `${traceId}-${callerSpan}-1`;
      const res = await fetch(`${chain.gatewayUrl}/hello`, { headers: { [header]: value } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ from: 'spring', downstream: 'pong from node' });

      const found = zipkin;
      const service = (s: ZipkinSpan): string => s.localEndpoint?.serviceName ?? '';
      const has = (spans: ZipkinSpan[], name: string, kind: string): boolean =>
        spans.some((s) => service(s) === name && s.kind === kind);
      const spans = await eventually(
        `trace ${traceId} with gateway, spring-tracing and node-downstream spans`,
        async () => {
          const trace = (await readTrace(found.url, traceId))?.spans;
          if (trace === undefined) return undefined;
          const complete =
            has(trace, 'gateway', 'SERVER') &&
            has(trace, 'gateway', 'CLIENT') &&
            has(trace, 'spring-tracing', 'SERVER') &&
            has(trace, 'spring-tracing', 'CLIENT') &&
            has(trace, 'node-downstream', 'SERVER');
          return complete ? trace : undefined;
        },
        { app: chain.spring.jvm },
      );
      const trace = spans.map((s) => `${service(s)} ${s.kind ?? 'LOCAL'} ${s.name ?? ''} ${s.id}←${s.parentId}`);
      const span = (name: string, kind: string): ZipkinSpan | undefined =>
        spans.find((s) => service(s) === name && s.kind === kind);
      const gatewayServer = span('gateway', 'SERVER');
      const gatewayClient = span('gateway', 'CLIENT');
      const springServer = span('spring-tracing', 'SERVER');
      const springClient = span('spring-tracing', 'CLIENT');
      const nodeServer = span('node-downstream', 'SERVER');
      expect(gatewayServer?.parentId, trace.join('\n')).toBe(callerSpan);
      expect(gatewayClient?.parentId, trace.join('\n')).toBe(gatewayServer?.id);
      expect(springServer?.parentId, trace.join('\n')).toBe(gatewayClient?.id);
      expect(springClient?.parentId, trace.join('\n')).toBe(springServer?.id);
      expect(nodeServer?.parentId, trace.join('\n')).toBe(springClient?.id);
      expect(nodeServer?.name).toBe('get /pong');
      expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
    });
  },
);
