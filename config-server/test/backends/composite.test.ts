import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { createCompositeBackend } from '../../src/backends/composite.ts';
import { createNativeBackend } from '../../src/backends/native.ts';
import { createSqliteBackend } from '../../src/backends/jdbc.ts';
import type { BackendChange } from '../../src/backends/types.ts';
import { loadConfig } from '../../src/config.ts';
import { overridesFromFile, parseOverrides } from '../../src/overrides.ts';
import { openPropertyStore } from '../../src/store/properties.ts';
import { silentLogger, tempRepo, type EnvJson } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: native\n',
  'product.yml': 'port: 7001\nsource: native\n',
  'v9/product.yml': 'port: 7009\n',
});
afterAll(() => repo.remove());
const store = openPropertyStore({ file: ':memory:' });
const scope = { application: 'product', profile: 'default', label: 'main' };
await store.write({ scope, set: { port: '1', only: 'sqlite', source: 'sqlite' }, actor: 'test' });
const native = createNativeBackend({ root: repo.root, defaultLabel: 'main' });
const sqlite = createSqliteBackend({ store, defaultLabel: 'main' });

const envOf = async (app: ReturnType<typeof createApp>, path: string): Promise<EnvJson> => {
  const res = await app.request(path);
  expect(res.status).toBe(200);
  return (await res.json()) as EnvJson;
};
const names = (env: EnvJson): string[] => env.propertySources.map((s) => s.name.replace(`${repo.root}/`, ''));

describe('composite backends', () => {
  it("lists the first backend's sources first, so its values win", async () => {
    const app = createApp({ logger: silentLogger(), backend: createCompositeBackend([native, sqlite]) });
    const env = await envOf(app, '/product/default');
    expect(names(env)).toEqual(['file:product.yml', 'file:application.yml', 'product-default']);
    const swapped = await envOf(
      createApp({ logger: silentLogger(), backend: createCompositeBackend([sqlite, native]) }),
      '/product/default',
    );
    expect(names(swapped)).toEqual(['product-default', 'file:product.yml', 'file:application.yml']);
  });

  it('leaves out a backend that does not know the label, and answers 404 only when none does', async () => {
    const app = createApp({ logger: silentLogger(), backend: createCompositeBackend([native, native]) });
    expect((await app.request('/product/default/nope')).status).toBe(404);
    const mixed = createApp({ logger: silentLogger(), backend: createCompositeBackend([native, sqlite]) });
    // sqlite, like Spring's JDBC backend, serves any label (empty here); native does not know `nope`.
    expect((await envOf(mixed, '/product/default/nope')).propertySources).toEqual([]);
    expect(names(await envOf(mixed, '/product/default/v9'))).toEqual([
      'file:v9/product.yml',
      'file:product.yml',
      'file:application.yml',
    ]);
  });

  it('passes every backend’s changes to subscribers and reports each backend in health', async () => {
    const composite = createCompositeBackend([native, sqlite]);
    const heard: BackendChange[] = [];
    const off = composite.subscribe((c) => heard.push(c));
    await store.write({ scope, set: { port: '2' }, actor: 'test' });
    off();
    expect(heard).toEqual([{ paths: ['product-default'] }]);
    const health = await composite.health();
    expect(health.status).toBe('UP');
    expect(Object.keys(health.components ?? {})).toEqual(['native', 'sqlite']);
  });
});

describe('server-side overrides', () => {
  it('are served first as the "overrides" source, winning over every backend', async () => {
    const app = createApp({
      logger: silentLogger(),
      backend: createCompositeBackend([native, sqlite]),
      overrides: parseOverrides('port=1234,greeting=hello\\, world'),
    });
    const env = await envOf(app, '/product/default');
    expect(env.propertySources[0]).toEqual({ name: 'overrides', source: { port: '1234', greeting: 'hello, world' } });
    const props = (await (await app.request('/product-default.properties')).text()).split('\n');
    expect(props).toContain('port: 1234');
  });

  it('parse from the setting and from a YAML file, with errors that name the entry', () => {
    expect(parseOverrides('a=1,,b=x=y, c = 3')).toEqual({ a: '1', b: 'x=y', c: ' 3' });
    expect(() => parseOverrides('a=1,novalue')).toThrow(/entry 2/);
    expect(overridesFromFile('o.yml', 'eureka:\n  client:\n    enabled: false\nport: 1\n')).toEqual({
      'eureka.client.enabled': 'false',
      port: '1',
    });
  });
});

describe('backend settings', () => {
  it('default to git when a git uri is given, and to native otherwise', () => {
    expect(loadConfig({}).backendKinds).toEqual(['native']);
    expect(loadConfig({ CONFIG_GIT_URI: '/srv/config.git' }).backendKinds).toEqual(['git']);
    const config = loadConfig({ TRELLIS_DATA_DIR: '/tmp/d' }, [
      '--backends',
      'native,sqlite',
      '--admins',
      'ops:ops-secret-1:*',
      '--overrides',
      'a=1',
    ]);
    expect(config.backendKinds).toEqual(['native', 'sqlite']);
    expect(config.sqlitePath).toBe('/tmp/d/config.sqlite');
    expect(config.adminEntries?.map((a) => a.id)).toEqual(['ops']);
    expect(config.overrideValues).toEqual({ a: '1' });
  });

  it('refuse unknown or repeated backends, git without a uri, and admins without sqlite', () => {
    expect(() => loadConfig({ CONFIG_BACKENDS: 'native,svn' })).toThrow(/CONFIG_BACKENDS.*svn/);
    expect(() => loadConfig({ CONFIG_BACKENDS: 'native,native' })).toThrow(/twice/);
    expect(() => loadConfig({ CONFIG_BACKENDS: 'git' })).toThrow(/CONFIG_GIT_URI/);
    expect(() => loadConfig({ CONFIG_ADMINS: 'ops:ops-secret-1:*' })).toThrow(/sqlite/);
    expect(() => loadConfig({ CONFIG_BACKENDS: 'sqlite', CONFIG_ADMINS: 'ops:short:*' })).toThrow(/CONFIG_ADMINS/);
    expect(() => loadConfig({ CONFIG_OVERRIDES: 'novalue' })).toThrow(/CONFIG_OVERRIDES/);
  });
});
