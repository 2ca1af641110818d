// The registry's OpenAPI document: every route the registry serves is in it, with the credentials it runs with, and
// it is served only where the API docs are enabled (off by default with NODE_ENV=production).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { undocumentedRoutes, type OpenApiDocument } from '@trellis/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { buildRegistry, type BuiltRegistry } from '../src/main.ts';
import { silentLogger } from './helpers.ts';

const dirs: string[] = [];
const built: BuiltRegistry[] = [];
afterEach(async () => {
  for (const b of built.splice(0)) await b.service.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The registry as main.ts assembles it, from these flags and variables, not listening. */
async function registry(argv: string[], env: Record<string, string> = {}): Promise<BuiltRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-docs-'));
  dirs.push(dir);
  const config = loadConfig({ argv: ['--port', '0', '--data-dir', dir, ...argv], env });
  const b = await buildRegistry(config, silentLogger());
  built.push(b);
  return b;
}

async function documentOf(b: BuiltRegistry): Promise<OpenApiDocument> {
  const res = await b.service.app.request('/v3/api-docs');
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDocument;
}

describe('the registry API document', () => {
  it('documents every route of the registry, the Eureka API under both mount points and the dashboard', async () => {
    const b = await registry(['--write-auth', 'basic:writer:w-secret', '--read-auth', 'bearer:r-token']);
    const doc = await documentOf(b);
    expect(undocumentedRoutes(b.service.app, doc)).toEqual([]);
    for (const path of [
      '/eureka/apps',
      '/eureka/apps/delta',
      '/eureka/v2/apps/{app}/{id}/status',
      '/eureka/watch',
      '/',
    ]) {
      expect(doc.paths?.[path], path).toBeDefined();
    }
    const schemes = doc.components?.securitySchemes as Record<string, { type: string; scheme: string }>;
    expect(Object.keys(schemes).sort()).toEqual(['basicAuth', 'bearerAuth']);
    expect(schemes.basicAuth).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(schemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    // Writes take the write credential, reads the read one or a write one.
    expect(doc.paths?.['/eureka/apps/{app}']?.post?.security).toEqual([{ basicAuth: [] }]);
    expect(doc.paths?.['/eureka/apps']?.get?.security).toEqual([{ bearerAuth: [] }, { basicAuth: [] }]);
    const body = doc.paths?.['/eureka/apps/{app}']?.post?.requestBody as { content: Record<string, unknown> };
    expect(Object.keys(body.content)).toEqual(['application/json', 'application/xml']);
  });

  it('declares no security where the registry runs open', async () => {
    const doc = await documentOf(await registry([]));
    expect(doc.components?.securitySchemes).toBeUndefined();
    expect(doc.paths?.['/eureka/apps/{app}/{id}']?.put?.security).toBeUndefined();
  });

  it('is off with NODE_ENV=production unless --api-docs', async () => {
    const production = { NODE_ENV: 'production', REGISTRY_WRITE_AUTH: 'basic:ops:a-real-secret' };
    const off = await registry([], production);
    expect((await off.service.app.request('/v3/api-docs')).status).toBe(404);
    const on = await registry(['--api-docs'], production);
    expect((await on.service.app.request('/v3/api-docs')).status).toBe(200);
    const dev = await registry(['--api-docs=false']);
    expect((await dev.service.app.request('/v3/api-docs')).status).toBe(404);
  });
});
