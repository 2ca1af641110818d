// The gateway's meters at /actuator/prometheus and its upstream spans in a real Zipkin, over sockets.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZipkin, type Zipkin } from '@trellis/kit/zipkin-server';
import type { Propagation } from '@trellis/kit';
import {
  call,
  deadPort,
  echo,
  send,
  startTestGateway,
  startUpstream,
  type TestGateway,
  type Upstream,
} from './helpers.ts';
import { sampleValue } from '../../kit/test/support/scrape.ts';
import { traceSpans, zipkinTracingFlags } from '../../kit/test/support/zipkin-trace.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

async function scrape(gateway: TestGateway): Promise<string> {
  const res = await call(`${gateway.url}/actuator/prometheus`);
  expect(res.status).toBe(200);
  return res.text;
}

describe('gateway meters', () => {
  let upstream: Upstream;
  let gateway: TestGateway;
  let dead: number;

  beforeAll(async () => {
    upstream = await startUpstream(echo);
    dead = await deadPort();
    gateway = await startTestGateway(`
spring.cloud.gateway.routes:
- id: items
  uri: ${upstream.url}
  predicates: [Path=/items/**]
- id: down
  uri: http://127.0.0.1:${dead}
  predicates: [Path=/down/**]
- id: limited
  uri: ${upstream.url}
  predicates: [Path=/limited/**]
  filters:
  - name: RequestRateLimiter
    args: {replenishRate: 1, burstCapacity: 1, keyResolver: ip}
- id: guarded
  uri: http://127.0.0.1:${dead}
  predicates: [Path=/guarded/**]
  filters:
  - name: CircuitBreaker
    args: {name: inventory, slidingWindowSize: 2, minimumNumberOfCalls: 2, waitDurationInOpenState: 60s}
`);
    for (const id of ['A-1', 'B-2']) expect((await call(`${gateway.url}/items/${id}?token=abc`)).status).toBe(200);
    expect((await call(`${gateway.url}/items/C-3`, { method: 'POST', body: 'x' })).status).toBe(200);
    expect((await call(`${gateway.url}/nowhere/at/all`)).status).toBe(404);
    expect((await call(`${gateway.url}/down/x`)).status).toBe(502);
    expect((await call(`${gateway.url}/limited/1`)).status).toBe(200);
    expect((await call(`${gateway.url}/limited/2`)).status).toBe(429);
    // Two refused calls open the breaker; the third is not sent (503).
    expect((await call(`${gateway.url}/guarded/1`)).status).toBe(502);
    expect((await call(`${gateway.url}/guarded/2`)).status).toBe(502);
    expect((await call(`${gateway.url}/guarded/3`)).status).toBe(503);
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.close();
  });

  it('times each route’s requests under Spring Cloud Gateway’s name and tags, with the configured URI', async () => {
    const text = await scrape(gateway);
    expect(text).toContain('# TYPE spring_cloud_gateway_requests_seconds histogram');
    const ok = {
      routeId: 'items',
      routeUri: upstream.url,
      httpMethod: 'GET',
      httpStatusCode: '200',
      status: 'OK',
      outcome: 'SUCCESSFUL',
      application: 'gateway',
    };
    expect(sampleValue(text, 'spring_cloud_gateway_requests_seconds_count', ok)).toBe(2);
    expect(
      sampleValue(text, 'spring_cloud_gateway_requests_seconds_count', { routeId: 'items', httpMethod: 'POST' }),
    ).toBe(1);
    expect(
      sampleValue(text, 'spring_cloud_gateway_requests_seconds_count', {
        routeId: 'down',
        routeUri: `http://127.0.0.1:${dead}`,
        httpStatusCode: '502',
        status: 'BAD_GATEWAY',
        outcome: 'SERVER_ERROR',
      }),
    ).toBe(1);
    expect(
      sampleValue(text, 'spring_cloud_gateway_requests_seconds_count', {
        routeId: 'limited',
        httpStatusCode: '429',
        status: 'TOO_MANY_REQUESTS',
        outcome: 'CLIENT_ERROR',
      }),
    ).toBe(1);
    // Labels are route ids and configured URIs only: no request path, id or query.
    for (const leak of ['A-1', 'B-2', 'token=abc', '/items/', '/nowhere']) expect(text).not.toContain(leak);
  });

  it('names proxied requests by route id in http_server_requests_seconds, and an unmatched one NOT_FOUND', async () => {
    const text = await scrape(gateway);
    expect(
      sampleValue(text, 'http_server_requests_seconds_count', { uri: 'items', method: 'GET', status: '200' }),
    ).toBe(2);
    expect(sampleValue(text, 'http_server_requests_seconds_count', { uri: 'NOT_FOUND', status: '404' })).toBe(1);
    expect(sampleValue(text, 'http_server_requests_seconds_count', { uri: 'down', status: '502' })).toBe(1);
  });

  it('counts upstream failures by route and reason, and RequestRateLimiter refusals by route', async () => {
    const text = await scrape(gateway);
    expect(
      sampleValue(text, 'trellis_gateway_upstream_errors_total', { routeId: 'down', reason: 'connect_refused' }),
    ).toBe(1);
    // The breaker's refusal (503) is not an upstream error: only the two calls that were sent count.
    expect(
      sampleValue(text, 'trellis_gateway_upstream_errors_total', { routeId: 'guarded', reason: 'connect_refused' }),
    ).toBe(2);
    expect(sampleValue(text, 'trellis_gateway_upstream_errors_total', { routeId: 'items' })).toBeUndefined();
    expect(sampleValue(text, 'trellis_gateway_rate_limit_refusals_total', { routeId: 'limited' })).toBe(1);
  });

  it('reports each breaker’s state as Resilience4j’s binder does: 1 for the current state, 0 for the others', async () => {
    const text = await scrape(gateway);
    expect(sampleValue(text, 'resilience4j_circuitbreaker_state', { name: 'inventory', state: 'open' })).toBe(1);
    expect(sampleValue(text, 'resilience4j_circuitbreaker_state', { name: 'inventory', state: 'closed' })).toBe(0);
    expect(sampleValue(text, 'resilience4j_circuitbreaker_state', { name: 'inventory', state: 'half_open' })).toBe(0);
  });
});

interface Seen {
  readonly headers: http.IncomingHttpHeaders;
}

describe('gateway spans', () => {
  let zipkin: Zipkin;
  let upstream: Upstream;
  let seen: Seen[] = [];
  let w3c: TestGateway;
  let b3: TestGateway;

  const routes = (url: string): string => `
spring.cloud.gateway.routes:
- id: orders
  uri: ${url}
  predicates: [Path=/orders/**]
`;
  const tracingArgv = (propagation: Propagation): string[] => zipkinTracingFlags(zipkin.spansUrl, propagation);

  beforeAll(async () => {
    zipkin = await startZipkin();
    upstream = await startUpstream((req, res) => {
      seen.push({ headers: req.headers });
      echo(req, res);
    });
    upstream.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      seen.push({ headers: req.headers });
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    });
    w3c = await startTestGateway(routes(upstream.url), { argv: tracingArgv('w3c') });
    b3 = await startTestGateway(routes(upstream.url), { argv: tracingArgv('b3') });
  }, 120_000);
  afterAll(async () => {
    await w3c.stop();
    await b3.stop();
    await upstream.close();
    await zipkin.stop();
  });

  it('continues the caller’s trace upstream through its own CLIENT span, and replaces the caller’s trace headers', async () => {
    seen = [];
    const res = await call(`${w3c.url}/orders/42?secret=x`, {
      headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, b3: `${TRACE_ID}-${CALLER_SPAN}-1` },
    });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    const headers = seen[0]!.headers;
    const parts = String(headers.traceparent).split('-');
    expect(parts[1]).toBe(TRACE_ID);
    expect(parts[2]).not.toBe(CALLER_SPAN);
    // Only the gateway's own headers: the caller's b3 is not passed on beside them.
    expect(headers.b3).toBeUndefined();

    const spans = await traceSpans(zipkin.url, TRACE_ID, { atLeast: 2 });
    const server = spans.find((s) => s.kind === 'SERVER' && s.localEndpoint?.serviceName === 'gateway');
    const client = spans.find((s) => s.kind === 'CLIENT' && s.localEndpoint?.serviceName === 'gateway');
    expect(server?.parentId).toBe(CALLER_SPAN);
    expect(server?.name).toBe('get orders');
    expect(client?.parentId).toBe(server?.id);
    // The upstream's parent is the gateway's client span.
    expect(client?.id).toBe(parts[2]);
    expect(client?.name).toBe('get orders');
    expect(client?.tags).toMatchObject({
      'http.request.method': 'GET',
      'server.address': '127.0.0.1',
      'server.port': String(upstream.port),
      'url.full': `${upstream.url}/orders/42`,
      'http.response.status_code': '200',
      'spring.cloud.gateway.route.id': 'orders',
      'spring.cloud.gateway.route.uri': upstream.url,
    });
  });

  it('starts a new trace for a caller on the internet: it neither chooses the trace id nor forces sampling', async () => {
    // Behind a trusted proxy, the forwarded client's address decides; 203.0.113.9 is a public (documentation) address.
    const edge = await startTestGateway(routes(upstream.url), {
      argv: [...tracingArgv('w3c'), '--tracing-sampling-probability', '0', '--trusted-proxies', '127.0.0.1'],
    });
    try {
      for (const client of ['203.0.113.9', '10.1.2.3']) {
        seen = [];
        const res = await call(`${edge.url}/orders/7`, {
          headers: { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, 'x-forwarded-for': client },
        });
        expect(res.status).toBe(200);
        const [, traceId, , flags] = String(seen[0]?.headers.traceparent).split('-');
        if (client === '10.1.2.3') {
          // A caller inside the network keeps its trace and its sampling decision.
          expect([traceId, flags]).toEqual([TRACE_ID, '01']);
        } else {
          expect(traceId).not.toBe(TRACE_ID);
          // The gateway's own decision (probability 0), not the caller's.
          expect(flags).toBe('00');
        }
      }
    } finally {
      await edge.stop();
    }
  });

  it('writes one b3 header with the caller’s trace id under b3 propagation, from an incoming B3 multi header', async () => {
    seen = [];
    const res = await call(`${b3.url}/orders/7`, {
      headers: {
        'x-b3-traceid': TRACE_ID,
        'x-b3-spanid': CALLER_SPAN,
        'x-b3-sampled': '1',
      },
    });
    expect(res.status).toBe(200);
    const headers = seen[0]!.headers;
    const [traceId, spanId, sampled] = String(headers.b3).split('-');
    expect(traceId).toBe(TRACE_ID);
    expect(spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(spanId).not.toBe(CALLER_SPAN);
    expect(sampled).toBe('1');
    // The incoming multi headers are replaced, not passed on beside the gateway's b3.
    expect(headers['x-b3-traceid']).toBeUndefined();
    expect(headers['x-b3-spanid']).toBeUndefined();
    expect(headers['x-b3-sampled']).toBeUndefined();
    expect(headers.traceparent).toBeUndefined();
  });

  it('continues the caller’s trace on a WebSocket handshake, with the gateway’s span as the upstream’s parent', async () => {
    seen = [];
    const traceId = 'c'.repeat(32);
    const answer = await send(
      w3c.port,
      `GET /orders/socket HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\ntraceparent: 00-${traceId}-${CALLER_SPAN}-01\r\n\r\n`,
    );
    expect(answer.status).toBe(101);
    const parts = String(seen[0]?.headers.traceparent).split('-');
    expect(parts[1]).toBe(traceId);
    expect(parts[2]).not.toBe(CALLER_SPAN);
    const spans = await traceSpans(zipkin.url, traceId, { atLeast: 1 });
    const client = spans.find((s) => s.kind === 'CLIENT' && s.localEndpoint?.serviceName === 'gateway');
    expect(client?.id).toBe(parts[2]);
    expect(client?.parentId).toBe(CALLER_SPAN);
    expect(client?.tags?.['http.response.status_code']).toBe('101');
  });

  it('marks the client span failed when the upstream refuses the connection', async () => {
    const dead = await deadPort();
    const gateway = await startTestGateway(
      `
spring.cloud.gateway.routes:
- id: gone
  uri: http://127.0.0.1:${dead}
  predicates: [Path=/gone/**]
`,
      { argv: tracingArgv('w3c') },
    );
    try {
      const traceId = 'a'.repeat(31) + 'b';
      const res = await call(`${gateway.url}/gone/1`, { headers: { traceparent: `00-${traceId}-${CALLER_SPAN}-01` } });
      expect(res.status).toBe(502);
      const spans = await traceSpans(zipkin.url, traceId, { atLeast: 2 });
      const client = spans.find((s) => s.kind === 'CLIENT');
      expect(client?.tags?.error).toBeDefined();
      expect(client?.tags?.['server.port']).toBe(String(dead));
    } finally {
      await gateway.stop();
    }
  });
});
