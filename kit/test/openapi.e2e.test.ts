// The API document a service serves at /v3/api-docs: derived from its routes, complete, and shown by Swagger UI in Chromium.
import type { Browser } from 'playwright-core';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KitEnv } from '../src/hono-app.ts';
import { apiDocsEnabled } from '../src/component.ts';
import { documented, undocumentedRoutes, type OpenApiDocument } from '../src/openapi.ts';
import { createService, type Service } from '../src/service.ts';
import { launchChromium } from './support/chromium.ts';
import { captureLogger } from './support/logger.ts';

function demo(apiDocs: boolean): Service {
  const service = createService({
    name: 'demo',
    version: '1.2.3',
    description: 'Demo service',
    logger: captureLogger().logger,
    git: false,
    ...(apiDocs ? { apiDocs: {} } : {}),
  });
  service.app.get(
    '/items/:id',
    documented(
      { summary: 'One item', responses: { 200: { description: 'the item' }, 404: { description: 'none' } } },
      (c) => c.json({ id: c.req.param('id') }),
    ),
  );
  return service;
}

async function documentOf(service: Service): Promise<OpenApiDocument> {
  const res = await service.app.request('/v3/api-docs');
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDocument;
}

describe('/v3/api-docs', () => {
  it('documents the routes and the actuator, with path parameters taken from the path', async () => {
    const doc = await documentOf(demo(true));
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: 'Demo service', version: '1.2.3' });
    expect(Object.keys(doc.paths ?? {})).toEqual(
      expect.arrayContaining(['/items/{id}', '/actuator/health', '/actuator/health/{component}', '/actuator/info']),
    );
    expect(doc.paths?.['/items/{id}']?.get?.parameters).toEqual([
      { in: 'path', name: 'id', required: true, schema: { type: 'string' } },
    ]);
  });

  it('leaves out an undocumented route, and undocumentedRoutes names it', async () => {
    expect(undocumentedRoutes(demo(true).app, await documentOf(demo(true)))).toEqual([]);
    const service = demo(true);
    service.app.post('/items', (c) => c.json({}, 201));
    const doc = await documentOf(service);
    expect(doc.paths?.['/items']).toBeUndefined();
    expect(undocumentedRoutes(service.app, doc)).toEqual(['POST /items']);
  });

  it('documents a route of a sub-app with its own onError, which hono mounts wrapped', async () => {
    const service = demo(true);
    const sub = new Hono<KitEnv>();
    sub.get(
      '/things',
      documented({ summary: 'Things', responses: { 200: { description: 'all' } } }, (c) => c.json([])),
    );
    sub.onError((_err, c) => c.text('sub error', 500));
    service.app.route('/sub', sub);
    const doc = await documentOf(service);
    expect(doc.paths?.['/sub/things']?.get?.summary).toBe('Things');
    expect(undocumentedRoutes(service.app, doc)).toEqual([]);
  });

  it('is not served unless asked for, and is off by default with NODE_ENV=production', async () => {
    const service = demo(false);
    expect((await service.app.request('/v3/api-docs')).status).toBe(404);
    expect((await service.app.request('/swagger-ui.html')).status).toBe(404);
    expect(apiDocsEnabled(undefined, {})).toBe(true);
    expect(apiDocsEnabled(undefined, { NODE_ENV: 'production' })).toBe(false);
    expect(apiDocsEnabled(true, { NODE_ENV: 'production' })).toBe(true);
    expect(apiDocsEnabled(false, {})).toBe(false);
  });

  it('serves only the two Swagger UI files, from the package, not a CDN', async () => {
    const service = demo(true);
    const res = await service.app.request('/swagger-ui/index.html');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const page = await res.text();
    expect(page).not.toMatch(/<script>/);
    expect(page).toContain('/swagger-ui/swagger-ui-dist/swagger-ui-bundle.js');
    expect(page).not.toMatch(/https?:\/\//);
    expect((await service.app.request('/swagger-ui/swagger-ui-dist/package.json')).status).toBe(404);
    expect((await service.app.request('/swagger-ui/swagger-ui-dist/..%2Fpackage.json')).status).toBe(404);
    const css = await service.app.request('/swagger-ui/swagger-ui-dist/swagger-ui.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toContain('text/css');
  });
});

describe('Swagger UI in Chromium', () => {
  let browser: Browser;
  let service: Service;
  let base: string;
  beforeAll(async () => {
    service = demo(true);
    const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
    base = endpoint.url;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await service?.stop();
  });

  it('shows the operations of the document, under a CSP that allows scripts from the server only', async () => {
    const page = await browser.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content.Security.Policy/i.test(m.text())) blocked.push(m.text());
    });
    const res = await page.goto(`${base}/swagger-ui.html`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    expect(res?.headers()).toMatchObject({ 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff' });
    expect(new URL(page.url()).pathname).toBe('/swagger-ui/index.html');
    await page.getByText('/items/{id}').first().waitFor({ timeout: 15_000 });
    expect(await page.getByText('One item').count()).toBeGreaterThan(0);
    expect(await page.locator('.opblock').count()).toBeGreaterThanOrEqual(4);
    expect(blocked).toEqual([]);
  });
});
