// lb:// through the real registry, WebSockets, token checks with a real JWKS, the runtime route API and health.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEurekaRegistration, type EurekaRegistration } from '@trellis/clients/discovery';
import { loadSettings } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { request as undiciRequest } from 'undici';
import { registryComponent } from '../../registry/src/index.ts';
import { startIssuer, type TestIssuer } from '../../clients/test/security/helpers.ts';
import {
  call,
  client,
  echo,
  silent,
  startTestGateway,
  admin,
  ADMIN_ARGV,
  startUpstream,
  type Echoed,
  type TestGateway,
  type Upstream,
  until,
} from './helpers.ts';

const PROXY_SECRET = 'gateway-proxy-secret-0123456789';

describe('gateway in a landscape', () => {
  let dir: string;
  let registry: { stop(): Promise<void> };
  let registryUrl: string;
  let issuer: TestIssuer;
  let product: Upstream[] = [];
  /** Registered as `auth`: the auth server behind lb://auth, named by --auth-server-upstreams. */
  let authServer: Upstream;
  let wsServer: http.Server;
  let wsPort: number;
  const registrations: EurekaRegistration[] = [];
  let gateway: TestGateway;

  const register = (app: string, port: number): EurekaRegistration => {
    const r = createEurekaRegistration({
      registryUrl: registryUrl,
      app,
      port,
      hostName: '127.0.0.1',
      ipAddr: '127.0.0.1',
      instanceId: `${app}:${port}`,
      logger: silent,
    });
    r.start();
    r.markUp();
    registrations.push(r);
    return r;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-landscape-'));
    const settings = loadSettings(registryComponent.settings, {
      argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
      env: {},
    });
    const running = await registryComponent.start(settings, { logger: silent, env: {} });
    registry = running;
    registryUrl = `http://127.0.0.1:${running.endpoints[0]?.port ?? 0}/eureka/`;
    issuer = await startIssuer({ audience: 'product-api' });
    product = await Promise.all([
      startUpstream((req, res) => (req.url === '/who' ? res.end('a') : echo(req, res))),
      startUpstream((req, res) => (req.url === '/who' ? res.end('b') : echo(req, res))),
    ]);
    for (const p of product) register('product', p.port);
    authServer = await startUpstream(echo);
    register('auth', authServer.port);
    // A WebSocket upstream that echoes each message with the path it was reached on.
    const wsUpstream = await startUpstream((_req, res) => res.writeHead(426).end());
    wsServer = wsUpstream.server;
    wsPort = wsUpstream.port;
    const wss = new WebSocketServer({ server: wsServer });
    wss.on('connection', (socket, req) =>
      socket.on('message', (m: Buffer) => socket.send(`${req.url ?? ''}:${m.toString()}`)),
    );
    register('chat', wsPort);
    gateway = await startTestGateway(
      `
spring.cloud.gateway.routes:
- id: product
  uri: lb://product
  predicates: [Path=/product/**]
  filters: [TokenCheck=product:read]
- id: who
  uri: lb://product
  predicates: [Path=/who]
  filters: [Public]
- id: open
  uri: lb://product
  predicates: [Path=/open/**]
  filters:
  - Public
  - name: RequestRateLimiter
    args: {replenishRate: 1, burstCapacity: 2, keyResolver: ip}
- id: anonymous-limited
  uri: lb://product
  predicates: [Path=/limited/**]
  filters: [Public, 'RequestRateLimiter=1, 2']
- id: signed-in
  uri: lb://product
  predicates: [Path=/signed-in/**]
- id: auth
  uri: lb://auth
  predicates: [Path=/oauth2/**]
  filters: [Public]
- id: app
  uri: lb://product
  predicates: [Path=/app/**]
  filters: [Public]
- id: ghost
  uri: lb://ghost
  predicates: [Path=/ghost/**]
  filters: [Public]
- id: chat
  uri: lb:ws://chat
  predicates: [Path=/chat/**]
  filters: [Public, StripPrefix=1]
`,
      {
        argv: [
          // The lb services' instance counts are health details.
          '--health-show-details',
          'always',
          '--registry-url',
          registryUrl,
          '--issuer',
          issuer.url,
          '--audience',
          'product-api',
          '--proxy-secret',
          PROXY_SECRET,
          // The instance the registry hands out for lb://auth, as the auth server's own URL would name it.
          '--auth-server-upstreams',
          `http://127.0.0.1:${authServer.port}`,
          ...ADMIN_ARGV,
        ],
      },
    );
    await until(
      () =>
        (gateway.discovery?.getInstances('product').length ?? 0) === 2 &&
        (gateway.discovery?.getInstances('auth').length ?? 0) === 1 &&
        (gateway.discovery?.getInstances('chat').length ?? 0) === 1,
    );
  });

  afterAll(async () => {
    await gateway.stop();
    await Promise.all(registrations.map((r) => r.stop()));
    await Promise.all(product.map((p) => p.close()));
    await authServer.close();
    wsServer.closeAllConnections();
    wsServer.close();
    await issuer.close();
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('round-robins lb:// across the two UP instances', async () => {
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await call(`${gateway.url}/who`)).text);
    expect(new Set(answers)).toEqual(new Set(['a', 'b']));
    expect(answers[0]).not.toBe(answers[1]);
    expect(answers[0]).toBe(answers[2]);
  });

  it("gives the proxy secret and the auth server's cookies to the lb:// instance that is the auth server only", async () => {
    const cookie = '_session=s; _session.sig=t; cart=3';
    const toAuth = (await call(`${gateway.url}/oauth2/token`, { headers: { cookie } })).json<Echoed>();
    expect(toAuth.headers['x-trellis-proxy-secret']).toBe(PROXY_SECRET);
    expect(toAuth.headers.cookie).toBe(cookie);
    const toApp = (await call(`${gateway.url}/app/x`, { headers: { cookie } })).json<Echoed>();
    expect(toApp.headers['x-trellis-proxy-secret']).toBeUndefined();
    expect(toApp.headers.cookie).toBe('cart=3');
  });

  it('answers 503 naming the route when the service has no UP instance', async () => {
    const res = await call(`${gateway.url}/ghost/1`);
    expect(res.status).toBe(503);
    expect(res.json()).toMatchObject({
      error: 'service_unavailable',
      route: 'ghost',
      message: 'no UP instance of ghost',
    });
  });

  it('checks tokens per route: 401 without or with a bad token, 403 without the scope, 200 with it', async () => {
    const none = await call(`${gateway.url}/product/1`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="gateway"');
    expect(none.json()).toMatchObject({ error: 'unauthorized', route: 'product' });
    const malformed = await call(`${gateway.url}/product/1`, { headers: { authorization: 'Bearer not a token' } });
    expect(malformed.status).toBe(401);
    const forged = await call(`${gateway.url}/product/1`, { headers: { authorization: 'Bearer abc.def.ghi' } });
    expect(forged.status).toBe(401);
    expect(String(forged.headers['www-authenticate'])).toContain('invalid_token');
    const otherAudience = await issuer.sign({ aud: 'someone-else', scope: 'product:read' });
    expect(
      (await call(`${gateway.url}/product/1`, { headers: { authorization: `Bearer ${otherAudience}` } })).status,
    ).toBe(401);
    const weak = await issuer.sign({ scope: 'review:read', client_id: 'reader' });
    const refused = await call(`${gateway.url}/product/1`, { headers: { authorization: `Bearer ${weak}` } });
    expect(refused.status).toBe(403);
    expect(refused.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="product:read"');
    const good = await issuer.sign({ scope: 'product:read', client_id: 'reader' });
    const ok = await call(`${gateway.url}/product/1`, { headers: { authorization: `Bearer ${good}` } });
    expect(ok.status).toBe(200);
    // The token travels on: the service checks its scopes again.
    expect(ok.json<Echoed>().headers.authorization).toBe(`Bearer ${good}`);
    // Routes without TokenCheck or Public still need a valid token once an issuer is set.
    expect((await call(`${gateway.url}/signed-in/1`)).status).toBe(401);
    expect((await call(`${gateway.url}/signed-in/1`, { headers: { authorization: `Bearer ${weak}` } })).status).toBe(
      200,
    );
  });

  it('rate-limits a public route by IP when asked, with the X-RateLimit headers', async () => {
    const first = await call(`${gateway.url}/open/1`);
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ 'x-ratelimit-remaining': '1', 'x-ratelimit-burst-capacity': '2' });
    expect((await call(`${gateway.url}/open/1`)).headers['x-ratelimit-remaining']).toBe('0');
    const refused = await call(`${gateway.url}/open/1`);
    expect(refused.status).toBe(429);
    expect(refused.headers).toMatchObject({
      'x-ratelimit-remaining': '0',
      'x-ratelimit-replenish-rate': '1',
      'x-ratelimit-requested-tokens': '1',
    });
    expect(refused.json()).toMatchObject({ error: 'too_many_requests', route: 'open' });
    // Keyed by principal (the default): an anonymous caller has none, so Spring's deny-empty-key answers 403.
    expect((await call(`${gateway.url}/limited/1`)).status).toBe(403);
  });

  it('proxies WebSockets to lb:ws:// instances', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/chat/room-1`);
    await once(ws, 'open');
    ws.send('hello');
    const [message] = (await once(ws, 'message')) as [Buffer];
    expect(message.toString()).toBe('/room-1:hello');
    ws.close();
  });

  it('refuses a WebSocket upgrade on a route that does not exist with 404', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/nowhere`);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
    expect(res.statusCode).toBe(404);
    // ws reports terminate() during the handshake as an error event; unheard, it would be an uncaught exception.
    ws.once('error', () => {});
    ws.terminate();
  });

  it('reports each lb service in /actuator/health', async () => {
    const res = await call(`${gateway.url}/actuator/health`);
    const health = res.json<{
      status: string;
      components: Record<string, { status: string; components?: Record<string, { details: { instances: number } }> }>;
    }>();
    expect(health.status).toBe('UP');
    expect(health.components.gatewayRoutes?.status).toBe('UNKNOWN');
    expect(health.components.gatewayRoutes?.components?.product?.details.instances).toBe(2);
    expect(health.components.gatewayRoutes?.components?.ghost?.details.instances).toBe(0);
    expect(health.components.discovery?.status).toBe('UP');
  });

  it('registers itself in the registry', async () => {
    await until(async () => {
      const res = await call(`${registryUrl}apps/GATEWAY`, { headers: { accept: 'application/json' } });
      return res.status === 200;
    });
  });

  describe('runtime routes', () => {
    it('creates, shows, lists and deletes a route without a restart', async () => {
      const created = await admin(`${gateway.url}/actuator/gateway/routes/runtime`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          uri: product[0]?.url,
          predicates: [{ name: 'Path', args: { _genkey_0: '/runtime/**' } }],
          filters: ['StripPrefix=1', 'Public'],
        }),
      });
      expect(created.status).toBe(201);
      expect((await call(`${gateway.url}/runtime/x`)).json<Echoed>().url).toBe('/x');
      const shown = await admin(`${gateway.url}/actuator/gateway/routes/runtime`);
      expect(shown.json()).toMatchObject({
        id: 'runtime',
        source: 'api',
        filters: [{ name: 'StripPrefix' }, { name: 'Public' }],
      });
      const list = (await admin(`${gateway.url}/actuator/gateway/routes`)).json<
        { route_id: string; predicates: unknown[] }[]
      >();
      expect(list.map((r) => r.route_id)).toContain('runtime');
      expect(list.find((r) => r.route_id === 'product')?.predicates).toEqual(['Path=/product/**']);
      expect((await admin(`${gateway.url}/actuator/gateway/routes/runtime`, { method: 'DELETE' })).status).toBe(200);
      expect((await call(`${gateway.url}/runtime/x`)).status).toBe(404);
      expect((await admin(`${gateway.url}/actuator/gateway/routes/runtime`)).status).toBe(404);
    });

    it('refuses an invalid definition with 400 and deleting a file route with 409', async () => {
      const bad = await admin(`${gateway.url}/actuator/gateway/routes/bad`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: 'http://127.0.0.1:1', predicates: ['Nope=1'] }),
      });
      expect(bad.status).toBe(400);
      expect(bad.json()).toMatchObject({ error: 'invalid_route' });
      expect((await admin(`${gateway.url}/actuator/gateway/routes/product`, { method: 'DELETE' })).status).toBe(409);
    });

    it('refresh rereads the file while a streaming response under way completes', async () => {
      // A slow answer under way on the old table.
      const slow = await startUpstream((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('start-');
        setTimeout(() => res.end('end'), 300);
      });
      await admin(`${gateway.url}/actuator/gateway/routes/slow`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ uri: slow.url, predicates: ['Path=/slow'], filters: ['Public'] }),
      });
      const pending = undiciRequest(`${gateway.url}/slow`, { dispatcher: client }).then((r) => r.body.text());
      await new Promise((r) => setTimeout(r, 50));
      const original = await import('node:fs/promises').then((fs) => fs.readFile(gateway.routesFile, 'utf8'));
      await gateway.writeRoutes(
        `${original}- id: added\n  uri: ${product[1]?.url ?? ''}\n  predicates: [Path=/added]\n  filters: [Public]\n`,
      );
      const refreshed = await admin(`${gateway.url}/actuator/gateway/refresh`, { method: 'POST' });
      expect(refreshed.status).toBe(200);
      expect((await call(`${gateway.url}/added`)).json<Echoed>().url).toBe('/added');
      expect(await pending).toBe('start-end');
      // Runtime routes survive a refresh.
      expect((await admin(`${gateway.url}/actuator/gateway/routes/slow`)).status).toBe(200);
      await slow.close();
    });
  });
});
