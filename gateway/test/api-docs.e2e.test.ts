// The gateway's OpenAPI document: every route of its own API in it, none of the proxied ones; /v3/api-docs and
// Swagger UI served before the routes (as springdoc's controllers are in Spring Cloud Gateway) and nothing else
// taken from a `Path=/**` route; off with NODE_ENV=production unless --api-docs.
import { undocumentedRoutes, type KitEnv, type OpenApiDocument } from '@trellis/kit';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  ADMIN_ARGV,
  call,
  echo,
  startTestGateway,
  startUpstream,
  type Echoed,
  type TestGateway,
  type Upstream,
} from './helpers.ts';
import { spawnGateway } from './process.ts';

const catchAll = (url: string) => `
spring.cloud.gateway.routes:
- id: everything
  uri: ${url}
  predicates: [Path=/**]
`;

describe('the API document', () => {
  let upstream: Upstream;
  let gateway: TestGateway;
  let doc: OpenApiDocument;
  beforeAll(async () => {
    upstream = await startUpstream(echo);
    gateway = await startTestGateway(catchAll(upstream.url), { argv: ADMIN_ARGV });
    const res = await call(`${gateway.url}/v3/api-docs`);
    expect(res.status).toBe(200);
    doc = res.json<OpenApiDocument>();
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it('documents every route of the gateway app, the route API under the --admin-auth scheme', () => {
    expect(undocumentedRoutes(gateway.app, doc)).toEqual([]);
    expect(Object.keys(doc.paths ?? {})).toEqual(
      expect.arrayContaining([
        '/actuator/gateway/routes',
        '/actuator/gateway/routes/{id}',
        '/actuator/gateway/refresh',
        '/actuator/health',
      ]),
    );
    const item = doc.paths?.['/actuator/gateway/routes/{id}'];
    expect(Object.keys(item ?? {}).sort()).toEqual(['delete', 'get', 'post']);
    expect(item?.post?.security).toEqual([{ adminAuth: [] }]);
    expect(doc.components?.securitySchemes?.adminAuth).toMatchObject({ type: 'http', scheme: 'basic' });
    // The body schema is Spring's RouteDefinition, its factory names taken from the gateway's own.
    const input = doc.components?.schemas?.RouteDefinitionInput as { properties: Record<string, unknown> };
    expect(Object.keys(input.properties).sort()).toEqual(['filters', 'id', 'metadata', 'order', 'predicates', 'uri']);
    expect(JSON.stringify(input.properties.predicates)).toContain('"Path"');
    expect(JSON.stringify(input.properties.filters)).toContain('"StripPrefix"');
    // Proxied routes are the upstreams' to document: only the gateway's own paths are here.
    for (const path of Object.keys(doc.paths ?? {})) expect(path).toMatch(/^\/(actuator\/|v3\/api-docs|swagger-ui)/);
  });

  it('fails the completeness check when a route of the app has no operation', () => {
    // The served app is built once it answered; a copy of its routes takes one more.
    const app = new Hono<KitEnv>().route('/', gateway.app);
    app.post('/actuator/gateway/undocumented', (c) => c.json({}));
    expect(undocumentedRoutes(app, doc)).toEqual(['POST /actuator/gateway/undocumented']);
  });

  it('answers /v3/api-docs and Swagger UI itself before a Path=/** route, which still gets every other path', async () => {
    const ui = await call(`${gateway.url}/swagger-ui.html`);
    expect(ui.status).toBe(302);
    expect(ui.headers.location).toBe('/swagger-ui/index.html');
    const page = await call(`${gateway.url}/swagger-ui/index.html`);
    // The page starts Swagger UI from a script of the gateway's own (the kit's CSP allows no inline script).
    expect(page.text).toContain('/swagger-ui/swagger-initializer.js');
    const initializer = await call(`${gateway.url}/swagger-ui/swagger-initializer.js`);
    expect(initializer.status).toBe(200);
    expect(initializer.text).toContain("url: '/v3/api-docs'");
    expect((await call(`${gateway.url}/swagger-ui/swagger-ui-dist/swagger-ui.css`)).status).toBe(200);
    // Neighbours of those paths are the route's: a service's docs aggregated under /v3/api-docs/<name> included.
    for (const path of ['/v3/api-docs/product', '/v3/api-docsx', '/swagger-uix', '/swagger-ui/other', '/anything']) {
      const res = await call(`${gateway.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.json<Echoed>().url, path).toBe(path);
    }
  });

  it('answers an id the path screen refuses with a 400 the document lists', async () => {
    const res = await admin(`${gateway.url}/actuator/gateway/routes/a%01b`);
    expect(res.status).toBe(400);
    expect(res.json<{ error: string }>().error).toBe('bad_request');
    expect(Object.keys(doc.paths?.['/actuator/gateway/routes/{id}']?.get?.responses ?? {})).toContain('400');
  });
});

describe('the route definition body (fuzzing findings)', () => {
  let gateway: TestGateway;
  beforeAll(async () => {
    gateway = await startTestGateway('spring.cloud.gateway.routes: []\n', { argv: ADMIN_ARGV });
  });
  afterAll(async () => gateway?.stop());

  const post = (id: string, body: unknown) =>
    admin(`${gateway.url}/actuator/gateway/routes/${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const base = { uri: 'http://127.0.0.1:9', predicates: ['Path=/x/**'] };

  it('takes order as an integer, its text (as the config server sends it) or null, and refuses the rest unchanged', async () => {
    // Number() took true as 1, "" and [] as 0, [5] as 5 and "0x10" as 16.
    for (const order of [true, '', [], [5], '0x10', ' 5', 1.5, {}]) {
      const res = await post('ordered', { ...base, order });
      expect(res.status, JSON.stringify(order)).toBe(400);
      expect(res.json<{ message: string }>().message).toBe('route ordered: order must be an integer');
    }
    expect((await admin(`${gateway.url}/actuator/gateway/routes`)).json()).toEqual([]);
    expect((await post('ordered', { ...base, order: '-7' })).json<{ order: number }>().order).toBe(-7);
    expect((await post('ordered', { ...base, order: 3 })).json<{ order: number }>().order).toBe(3);
    expect((await post('ordered', { ...base, order: null })).json<{ order: number }>().order).toBe(0);
  });
});

describe('the API document with NODE_ENV=production', () => {
  let upstream: Upstream;
  beforeAll(async () => {
    upstream = await startUpstream(echo);
  });
  afterAll(async () => upstream?.close());

  it('is not served by `trellis gateway`, and /v3/api-docs goes to the routes like any path', async () => {
    const gateway = await spawnGateway(catchAll(upstream.url), [], { NODE_ENV: 'production' });
    try {
      const res = await call(`${gateway.url}/v3/api-docs`);
      expect(res.status).toBe(200);
      expect(res.json<Echoed>().url).toBe('/v3/api-docs');
      expect(res.text).not.toContain('openapi');
      const ui = await call(`${gateway.url}/swagger-ui.html`);
      expect(ui.json<Echoed>().url).toBe('/swagger-ui.html');
    } finally {
      await gateway.stop();
    }
  }, 60_000);

  it('is served with --api-docs', async () => {
    const gateway = await startTestGateway('spring.cloud.gateway.routes: []\n', {
      argv: [...ADMIN_ARGV, '--api-docs'],
      env: { NODE_ENV: 'production' },
    });
    try {
      const res = await call(`${gateway.url}/v3/api-docs`);
      expect(res.status).toBe(200);
      expect(res.json<OpenApiDocument>().openapi).toBe('3.1.0');
    } finally {
      await gateway.stop();
    }
    const off = await startTestGateway('spring.cloud.gateway.routes: []\n', {
      argv: ADMIN_ARGV,
      env: { NODE_ENV: 'production' },
    });
    try {
      expect((await call(`${off.url}/v3/api-docs`)).status).toBe(404);
    } finally {
      await off.stop();
    }
  });
});
