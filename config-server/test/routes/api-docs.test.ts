// The config server's OpenAPI document: every route the server has is in it, and it is off in production unless asked.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, undocumentedRoutes, type OpenApiDocument, type Service } from '@trellis/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../../src/backends/native.ts';
import { checkConfig, configServerSettings } from '../../src/config.ts';
import { createConfigServer } from '../../src/main.ts';
import { openPropertyStore, type PropertyStore } from '../../src/store/properties.ts';
import { silentLogger } from '../helpers.ts';

const dirs: string[] = [];
const stores: PropertyStore[] = [];
afterEach(() => {
  stores.splice(0).forEach((s) => void s.close());
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** The service as main.ts builds it from these flags and environment, with every optional part present. */
function server(argv: readonly string[], env: Record<string, string> = {}): Service {
  const dir = mkdtempSync(join(tmpdir(), 'config-api-docs-'));
  dirs.push(dir);
  const config = checkConfig(
    loadSettings(configServerSettings(), { argv: ['--http', '--repo', dir, '--data-dir', dir, ...argv], env }),
    env,
  );
  const store = openPropertyStore({ file: join(dir, 'config.sqlite') });
  stores.push(store);
  return createConfigServer(config, {
    logger: silentLogger(),
    backend: createNativeBackend({ root: dir, defaultLabel: 'main' }),
    store,
  });
}

const SECURED = ['--clients', 'ops:ops-secret:*', '--backends', 'native,sqlite', '--admins', 'root:root-secret:*'];

async function documentOf(service: Service): Promise<OpenApiDocument> {
  const res = await service.app.request('/v3/api-docs');
  expect(res.status).toBe(200);
  return (await res.json()) as OpenApiDocument;
}

describe('the config server API document', () => {
  it('documents every route main.ts mounts', async () => {
    const service = server(SECURED);
    const document = await documentOf(service);
    expect(undocumentedRoutes(service.app, document)).toEqual([]);
    expect(Object.keys(document.paths ?? {})).toEqual(
      expect.arrayContaining([
        '/{name}/{profiles}',
        '/{name}/{profiles}/{label}',
        '/{file}',
        '/{label}/{file}',
        '/{name}/{profiles}/{label}/{path}',
        '/encrypt',
        '/decrypt',
        '/encrypt/status',
        '/key',
        '/watch/{name}/{profiles}',
        '/admin/properties/{application}/{profile}/{label}',
        '/admin/history',
        '/admin/rollback/{application}/{profile}/{label}',
      ]),
    );
  });

  it('names the client and admin credentials where a server asks for them, and none on an open server', async () => {
    const secured = await documentOf(server(SECURED));
    expect(Object.keys(secured.components?.securitySchemes ?? {})).toEqual(
      expect.arrayContaining(['clientBasic', 'clientToken', 'adminBasic']),
    );
    expect(secured.paths?.['/{name}/{profiles}']?.get?.security).toContainEqual({ clientBasic: [] });
    expect(secured.paths?.['/admin/history']?.get?.security).toContainEqual({ adminBasic: [] });
    const open = await documentOf(server([]));
    expect(open.paths?.['/{name}/{profiles}']?.get?.security).toBeUndefined();
  });

  it('links a write to reading its scope back, its history and a rollback', async () => {
    const document = await documentOf(server(SECURED));
    const links = document.paths?.['/admin/properties/{application}/{profile}/{label}']?.put?.responses?.['200'];
    expect(Object.keys((links as { links?: object }).links ?? {})).toEqual(['ReadBack', 'History', 'RollBack']);
  });

  it('is off with NODE_ENV=production unless --api-docs asks for it', async () => {
    const production = { NODE_ENV: 'production' };
    const ops = { authorization: `Basic ${btoa('ops:ops-secret')}` };
    // Without the document, /v3/api-docs is what Spring makes of it too: the environment of an application "v3".
    const off = await server(SECURED, production).app.request('/v3/api-docs', { headers: ops });
    expect(await off.json()).toMatchObject({ name: 'v3', profiles: ['api-docs'] });
    expect((await server(SECURED, production).app.request('/swagger-ui.html', { headers: ops })).status).toBe(404);
    expect((await documentOf(server([...SECURED, '--api-docs'], production))).openapi).toBe('3.1.0');
    const asked = await server([...SECURED, '--api-docs', 'false']).app.request('/v3/api-docs', { headers: ops });
    expect(await asked.json()).not.toHaveProperty('openapi');
  });
});

describe('--max-credential-failures', () => {
  const wrong = { authorization: `Basic ${btoa('ops:wrong')}` };
  const statuses = async (service: Service, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await service.app.request('/product/default', { headers: wrong })).status);
    return out;
  };

  it('locks a name out after that many wrong credentials from one address (default 10)', async () => {
    expect(await statuses(server(['--clients', 'ops:ops-secret:*', '--max-credential-failures', '2']), 3)).toEqual([
      401, 401, 429,
    ]);
    expect(await statuses(server(['--clients', 'ops:ops-secret:*']), 11)).toEqual([
      ...Array<number>(10).fill(401),
      429,
    ]);
  });
});

describe('the path parameters’ schemas', () => {
  // What the routes refuse with 400 is what the document's patterns refuse: a fuzzer sends both sides of each.
  const service = (): Service => server(['--backends', 'native,sqlite', '--admins', 'root:root-secret:*']);
  const matches = (schema: object, value: string): boolean => {
    const { pattern, maxLength } = schema as { pattern?: string; maxLength?: number };
    return new RegExp(pattern ?? '').test(value) && [...value].length <= (maxLength ?? Infinity);
  };
  const refused = async (s: Service, path: string): Promise<boolean> => {
    const res = await s.app.request(path, { headers: { authorization: `Basic ${btoa('root:root-secret')}` } });
    expect(res.status, path).toBeLessThan(500);
    return res.status === 400;
  };
  const e = encodeURIComponent;
  const NAMES = [
    'product',
    'a,b',
    'a,,b',
    ' a',
    'a, ',
    ' ',
    '(_)a',
    'a(_)b',
    'a..b',
    'a#b',
    'a\\b',
    '%2Fa',
    'é',
    'x'.repeat(255),
    'x'.repeat(256),
  ];
  const PROFILES = ['docker', 'a,b', ' a ', 'a-', '-a', 'a..b', 'a b', 'a@b+c', 'x'.repeat(255), 'x'.repeat(256)];
  const FILES = [
    'product-docker.yml',
    'a,b-c,d.json',
    'x-a..b.yml',
    'a..b-c.yml',
    '(_)a-b.yml',
    'a-b c.yml',
    'a#-b.yml',
  ];
  const RESOURCES = ['a.txt', 'a/b.txt', 'a(_)b.txt', 'a//b', './a', 'a/.', 'a/..b', `${'x'.repeat(256)}.txt`];

  it('agree with the routes on names, profiles, files and resource paths', async () => {
    const { NAME_SCHEMA, PROFILES_SCHEMA, FILE_SCHEMA, RESOURCE_PATH_SCHEMA } =
      await import('../../src/routes/openapi.ts');
    const s = service();
    for (const name of NAMES) {
      expect(await refused(s, `/${e(name)}/default`), name).toBe(!matches(NAME_SCHEMA, name));
    }
    for (const profiles of PROFILES) {
      expect(await refused(s, `/product/${e(profiles)}/master`), profiles).toBe(!matches(PROFILES_SCHEMA, profiles));
    }
    for (const file of FILES) expect(await refused(s, `/${e(file)}`), file).toBe(!matches(FILE_SCHEMA, file));
    for (const path of RESOURCES) {
      // Encoded whole, `/` as %2F, as a fuzzer sends a path parameter (a literal `./` would be resolved by the URL).
      expect(await refused(s, `/product/default/master/${e(path)}`), path).toBe(!matches(RESOURCE_PATH_SCHEMA, path));
    }
  });
});
