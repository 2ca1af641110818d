import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request as undiciRequest } from 'undici';
import {
  call,
  client,
  deadPort,
  echo,
  startTestGateway,
  startUpstream,
  type Echoed,
  type TestGateway,
  type Upstream,
} from './helpers.ts';

/** Sends raw bytes and returns the whole answer (until the server closes or the timeout). */
async function raw(port: number, text: string, waitMs = 1500): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(text);
  let out = '';
  socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, waitMs))]);
  socket.destroy();
  return out;
}

describe('proxy core', () => {
  let upstream: Upstream;
  let faults: Upstream;
  let gateway: TestGateway;
  let dead: number;
  let flaky = 0;

  beforeAll(async () => {
    upstream = await startUpstream(echo);
    dead = await deadPort();
    faults = await startUpstream((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/slow')) {
        setTimeout(() => res.end('late'), 1500).unref();
        return;
      }
      if (path.startsWith('/die')) {
        // Announces 1000 bytes, sends 10, then dies: the client must not take this as a complete answer.
        res.writeHead(200, { 'content-length': '1000', 'content-type': 'text/plain' });
        res.write('0123456789');
        setTimeout(() => res.socket?.destroy(), 50);
        return;
      }
      if (path.startsWith('/sse')) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('event: first\ndata: 1\n\n');
        setTimeout(() => res.end('event: last\ndata: 2\n\n'), 400);
        return;
      }
      if (path.startsWith('/flaky')) {
        flaky++;
        res.writeHead(flaky % 3 === 0 ? 200 : 502).end(`attempt ${flaky}`);
        return;
      }
      if (path.startsWith('/hop')) {
        res.writeHead(200, {
          connection: 'x-internal, keep-alive',
          'x-internal': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic',
          'content-type': 'text/plain',
        });
        res.end('ok');
        return;
      }
      echo(req, res);
    });
    gateway = await startTestGateway(
      `
spring.cloud.gateway:
  globalcors:
    cors-configurations:
      '[/cors/**]':
        allowedOrigins: https://app.example.org
        allowedMethods: [GET, POST]
        allowedHeaders: ['*']
        maxAge: 60
  routes:
  - id: echo
    uri: ${upstream.url}
    predicates: [Path=/echo/**]
    filters: [StripPrefix=1]
  - id: host-preserved
    uri: ${upstream.url}
    predicates: [Path=/keep/**]
    filters: [StripPrefix=1, PreserveHostHeader]
  - id: refused
    uri: http://127.0.0.1:${dead}
    predicates: [Path=/refused/**]
  - id: slow
    uri: ${faults.url}
    predicates: [Path=/slow/**]
    metadata:
      response-timeout: 300
  - id: faults
    uri: ${faults.url}
    predicates: [Path=/die/**, Method=GET]
  - id: sse
    uri: ${faults.url}
    predicates: [Path=/sse/**]
  - id: hop
    uri: ${faults.url}
    predicates: [Path=/hop/**]
  - id: small
    uri: ${upstream.url}
    predicates: [Path=/small/**]
    filters: [RequestSize=16]
  - id: flaky
    uri: ${faults.url}
    predicates: [Path=/flaky/**]
    filters: ['Retry=3, BAD_GATEWAY']
  - id: flaky-no-retry
    uri: ${faults.url}
    predicates: [Path=/flaky-once/**]
  - id: breaker
    uri: http://127.0.0.1:${dead}
    predicates: [Path=/breaker/**]
    filters:
    - name: CircuitBreaker
      args: {name: backend, fallbackUri: 'forward:/fallback/product', slidingWindowSize: 2, minimumNumberOfCalls: 2}
  - id: fallback
    uri: ${upstream.url}
    predicates: [Path=/fallback/**]
  - id: cors
    uri: ${upstream.url}
    predicates: [Path=/cors/**]
  - id: cors-route
    uri: ${upstream.url}
    predicates: [Path=/route-cors/**]
    metadata:
      cors:
        allowedOrigins: '*'
        allowedMethods: [PUT]
`,
      { argv: ['--connect-timeout-ms', '500'] },
    );
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.close();
    await faults.close();
  });

  it('forwards method, path and query, and streams a request body through', async () => {
    const res = await call(`${gateway.url}/echo/product/1?x=1&y=2`, { method: 'POST', body: 'hello upstream' });
    expect(res.status).toBe(200);
    const seen = res.json<Echoed>();
    expect(seen).toMatchObject({ method: 'POST', url: '/product/1?x=1&y=2', body: 'hello upstream' });
  });

  it('sets X-Forwarded-* from what it saw and rewrites Host to the upstream unless PreserveHostHeader', async () => {
    const headers = { host: 'edge.localhost:8080', 'x-forwarded-for': '10.1.1.1' };
    const seen = (await call(`${gateway.url}/echo/x`, { headers })).json<Echoed>().headers;
    // The client is no trusted proxy: what it claims about earlier hops is dropped (hygiene.e2e.test.ts has the rest).
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('edge.localhost:8080');
    expect(seen['x-forwarded-port']).toBe(String(gateway.port));
    expect(seen.host).toBe(`127.0.0.1:${upstream.port}`);
    const kept = (await call(`${gateway.url}/keep/x`, { headers })).json<Echoed>().headers;
    expect(kept.host).toBe('edge.localhost:8080');
  });

  it('removes hop-by-hop headers both ways, including those Connection names', async () => {
    const answer = await raw(
      gateway.port,
      'GET /echo/x HTTP/1.1\r\nhost: localhost\r\nconnection: close, x-hop\r\nx-hop: 1\r\nte: trailers\r\nproxy-authorization: Basic eA==\r\nx-end: 2\r\n\r\n',
    );
    const seen = (JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as Echoed).headers;
    expect(seen['x-hop']).toBeUndefined();
    expect(seen.te).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-end']).toBe('2');
    const res = await call(`${gateway.url}/hop/x`);
    expect(res.text).toBe('ok');
    expect(res.headers['x-internal']).toBeUndefined();
    expect(res.headers['proxy-authenticate']).toBeUndefined();
    expect(res.headers['content-type']).toBe('text/plain');
  });

  it('answers 404 JSON when no route matches', async () => {
    const res = await call(`${gateway.url}/nowhere`);
    expect(res.status).toBe(404);
    expect(res.json()).toEqual({ error: 'no_route', message: 'no route matches GET /nowhere' });
  });

  it('answers 502 naming the route when the upstream refuses the connection', async () => {
    const res = await call(`${gateway.url}/refused/x`);
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ error: 'bad_gateway', route: 'refused' });
  });

  it('answers 504 naming the route when the upstream exceeds the route response-timeout', async () => {
    const started = Date.now();
    const res = await call(`${gateway.url}/slow/x`);
    expect(res.status).toBe(504);
    expect(res.json()).toMatchObject({ error: 'gateway_timeout', route: 'slow' });
    expect(Date.now() - started).toBeLessThan(1200);
  });

  it('destroys the client connection when the upstream dies mid-response', async () => {
    const res = await undiciRequest(`${gateway.url}/die/x`, { dispatcher: client });
    expect(res.statusCode).toBe(200);
    await expect(res.body.text()).rejects.toThrow();
  });

  it('passes Server-Sent Events through unbuffered: the first event arrives before the upstream finishes', async () => {
    const started = Date.now();
    const res = await undiciRequest(`${gateway.url}/sse/x`, { dispatcher: client });
    expect(res.headers['content-type']).toBe('text/event-stream');
    const iterator = (res.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(String(first.value)).toContain('event: first');
    expect(Date.now() - started).toBeLessThan(350);
    let rest = '';
    for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) rest += String(r.value);
    expect(rest).toContain('event: last');
  });

  it('answers 413 for a body over RequestSize, announced or chunked', async () => {
    const announced = await call(`${gateway.url}/small/x`, { method: 'POST', body: 'x'.repeat(17) });
    expect(announced.status).toBe(413);
    expect(announced.json()).toMatchObject({ error: 'payload_too_large', route: 'small' });
    const ok = await call(`${gateway.url}/small/x`, { method: 'POST', body: 'x'.repeat(16) });
    expect(ok.status).toBe(200);
    const chunked = await raw(
      gateway.port,
      'POST /small/x HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\n\r\n14\r\n' +
        'y'.repeat(20) +
        '\r\n0\r\n\r\n',
    );
    expect(chunked).toMatch(/^HTTP\/1.1 413/);
  });

  it('refuses a request with both Content-Length and Transfer-Encoding (no smuggling)', async () => {
    const answer = await raw(
      gateway.port,
      'POST /echo/x HTTP/1.1\r\nhost: localhost\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /echo/smuggled HTTP/1.1\r\nhost: localhost\r\n\r\n',
    );
    expect(answer).toMatch(/^HTTP\/1.1 400/);
    expect(answer).toContain('"error":"bad_request"');
    expect(answer).not.toContain('smuggled');
  });

  it('Retry sends a bodiless GET again on the statuses it names', async () => {
    flaky = 0;
    const res = await call(`${gateway.url}/flaky/x`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('attempt 3');
    flaky = 0;
    const once = await call(`${gateway.url}/flaky-once/x`);
    expect(once.status).toBe(502);
    expect(once.text).toBe('attempt 1');
  });

  it('CircuitBreaker answers from the fallback route on failure and once open', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await call(`${gateway.url}/breaker/product/1`);
      expect(res.status).toBe(200);
      expect(res.json<Echoed>().url).toBe('/fallback/product');
    }
    // Two failures in a window of two: the breaker is open and the dead upstream is no longer tried.
    const breaker = gateway.manager.table.get('breaker')?.features.circuitBreaker?.breaker;
    expect(breaker?.state).toBe('OPEN');
  });

  it('answers CORS preflights from the global policy and replaces upstream CORS headers', async () => {
    const pre = await call(`${gateway.url}/cors/x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.org', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(200);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example.org');
    expect(pre.headers['access-control-max-age']).toBe('60');
    const denied = await call(`${gateway.url}/cors/x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(denied.status).toBe(403);
    const actual = await call(`${gateway.url}/cors/x`, { headers: { origin: 'https://app.example.org' } });
    expect(actual.headers['access-control-allow-origin']).toBe('https://app.example.org');
    expect(actual.headers.vary).toBe('Origin');
    const routeLevel = await call(`${gateway.url}/route-cors/x`, {
      method: 'OPTIONS',
      headers: { origin: 'https://any.example', 'access-control-request-method': 'PUT' },
    });
    expect(routeLevel.status).toBe(200);
    expect(routeLevel.headers['access-control-allow-origin']).toBe('*');
    expect(routeLevel.headers['access-control-allow-methods']).toBe('PUT');
  });
});
