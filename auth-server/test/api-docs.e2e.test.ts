// The auth server's OpenAPI document: every route in it, every provider endpoint served as documented, off in production.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  apiDocument,
  createService,
  undocumentedRoutes,
  type OpenApiDocument,
  type OpenApiOperation,
} from '@trellis/kit';
import { authServerApiDocs, providerPaths } from '../src/api-docs.ts';
import { createApp } from '../src/app.ts';
import { openAuthStore, type AuthStore } from '../src/data-dir.ts';
import { DISCOVERY_PATHS, PROVIDER_ROUTES } from '../src/oidc/constants.ts';
import { FailureThrottle } from '../src/oidc/throttle.ts';
import { ADMIN_TOKEN, silentLogger, startServer, tempDir, type TestServer } from './helpers.ts';

const documentOf = async (url: string): Promise<OpenApiDocument> =>
  (await (await fetch(`${url}/v3/api-docs`)).json()) as OpenApiDocument;

describe('the OpenAPI document', () => {
  const dir = tempDir();
  let server: TestServer;
  let document: OpenApiDocument;
  beforeAll(async () => {
    server = await startServer({ dataDir: dir.path, argv: ['--registration-token', 'registration-token-0123456789'] });
    document = await documentOf(server.url);
  });
  afterAll(async () => {
    await server.running.stop();
    dir.remove();
  });

  it('documents every route of the app', async () => {
    // The same app main.ts makes (createApp on a service), built here because a running server does not hand it out.
    const storeDir = tempDir();
    let store: AuthStore | undefined;
    try {
      store = await openAuthStore({ dataDir: storeDir.path, logger: silentLogger() });
      const service = createService({ name: 'auth-server', logger: silentLogger(), git: false, apiDocs: {} });
      const throttle = () => new FailureThrottle();
      const app = createApp({
        service,
        store,
        holder: { current: undefined, callback: undefined },
        adminToken: ADMIN_TOKEN,
        registrationToken: undefined,
        registrationPolicy: { scopes: [], redirectHosts: [], grantTypes: [], authMethods: [] },
        proxies: undefined,
        sourceOf: () => 'test',
        tokenThrottle: throttle(),
        loginThrottle: throttle(),
        loginSourceThrottle: throttle(),
        rotateKeys: () => Promise.reject(new Error('not in this test')),
      });
      const built = await apiDocument(app, { title: 'auth-server', version: '0', ...authServerApiDocs() });
      expect(app.routes.length).toBeGreaterThan(20);
      expect(undocumentedRoutes(app, built)).toEqual([]);
      // And the running server's document is that one (beside /actuator/prometheus: metrics are on there).
      const own = (d: OpenApiDocument) =>
        Object.keys(d.paths ?? {}).filter((p) => !p.startsWith('/actuator/prometheus'));
      expect(own(document).sort()).toEqual(own(built).sort());
    } finally {
      await store?.close();
      storeDir.remove();
    }
  });

  it('documents every path the provider is configured with, and discovery', () => {
    const paths = Object.keys(document.paths ?? {});
    for (const path of [...Object.values(PROVIDER_ROUTES), ...DISCOVERY_PATHS]) expect(paths).toContain(path);
  });

  it('has the admin, client and access token security schemes, and the admin API needs the admin token', () => {
    expect(Object.keys(document.components?.securitySchemes ?? {})).toEqual(
      expect.arrayContaining(['adminToken', 'clientBasic', 'accessToken']),
    );
    const create = document.paths?.['/admin/clients']?.post as OpenApiOperation;
    expect(create.security).toEqual([{ adminToken: [] }]);
    const token = document.paths?.['/oauth2/token']?.post as OpenApiOperation;
    expect(token.security).toContainEqual({ clientBasic: [] });
    expect(Object.keys(token.requestBody && 'content' in token.requestBody ? token.requestBody.content : {})).toEqual([
      'application/x-www-form-urlencoded',
    ]);
  });

  it('documents only what the provider serves: each provider operation is answered, not 404', async () => {
    const provider = providerPaths();
    for (const [path, item] of Object.entries(provider)) {
      for (const method of Object.keys(item)) {
        const url = `${server.url}${path.replace('{uid}', 'no-such-uid')}`;
        const response = await fetch(url, {
          method: method.toUpperCase(),
          redirect: 'manual',
          ...(method === 'post' ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' } : {}),
        });
        await response.arrayBuffer();
        expect(response.status, `${method.toUpperCase()} ${path}`).not.toBe(404);
        expect(response.status, `${method.toUpperCase()} ${path}`).toBeLessThan(500);
      }
    }
  });

  it('answers another method on a provider path 405 with Allow, and a CORS preflight as the provider does', async () => {
    const trace = await fetch(`${server.url}/oauth2/token`, { method: 'DELETE' });
    expect(trace.status).toBe(405);
    expect(trace.headers.get('allow')).toBe('POST');
    expect(await trace.json()).toMatchObject({ error: 'method_not_allowed' });
    const bare = await fetch(`${server.url}/oauth2/token`, { method: 'OPTIONS' });
    await bare.arrayBuffer();
    expect(bare.status).toBe(405);
    const preflight = await fetch(`${server.url}/oauth2/token`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    await preflight.arrayBuffer();
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    // A path nobody serves is the kit's JSON 404, not Koa's plain text.
    const unknown = await fetch(`${server.url}/oauth2/nothing-here`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: 'not_found' });
  });

  it('names the registration endpoint in both discovery documents', async () => {
    for (const path of DISCOVERY_PATHS) {
      const metadata = (await (await fetch(`${server.url}${path}`)).json()) as Record<string, unknown>;
      expect(metadata.registration_endpoint, path).toBe(
        `${server.url.replace('127.0.0.1', 'localhost')}/oauth2/register`,
      );
    }
  });

  it('answers each provider error as documented: an OAuth error body', async () => {
    const response = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['error', 'error_description']);
    expect(body.error).toBe('invalid_request');
  });
});

describe('the API document switch', () => {
  const dir = tempDir();
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.running.stop();
    server = undefined;
  });
  afterAll(() => dir.remove());
  const production = { NODE_ENV: 'production', AUTH_SEED_DEV_CLIENTS: 'false' };

  it('is off with NODE_ENV=production', async () => {
    server = await startServer({ dataDir: dir.path, env: production });
    const response = await fetch(`${server.url}/v3/api-docs`);
    await response.arrayBuffer();
    expect(response.status).toBe(404);
    const ui = await fetch(`${server.url}/swagger-ui.html`, { redirect: 'manual' });
    await ui.arrayBuffer();
    expect(ui.status).toBe(404);
  });

  it('is on with NODE_ENV=production and --api-docs', async () => {
    server = await startServer({ dataDir: dir.path, env: production, argv: ['--api-docs'] });
    const document = await documentOf(server.url);
    expect(document.paths?.['/oauth2/token']).toBeDefined();
  });
});
