import { relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../../src/backends/native.ts';
import { tempRepo, testServer, type EnvJson } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: app\nonly.application: yes\n',
  'application-docker.yml': 'shared: app-docker\n',
  'application-dev.properties': 'shared=app-dev\n',
  'product.yml': 'shared: product\nserver:\n  port: 7001\nlist: [a, b]\n',
  'product-docker.yml': 'shared: product-docker\nmongo.host: mongodb\n',
  'product-dev.properties': 'shared=product-dev\n',
  'product-composite.yml': 'composite: true\n',
  'multi.yml':
    'a: base\n---\nspring.config.activate.on-profile: docker\na: docker-doc\n---\nspring.config.activate.on-profile: prod\na: prod-doc\n',
  'v1/product.yml': 'shared: product-v1\n',
  'v1/application.yml': 'shared: app-v1\n',
  'feature/x/product.yml': 'shared: feature-x\n',
  'review.properties': 'url=http://${host:localhost}:${port}\nport=7003\n',
});
afterAll(() => repo.remove());
const server = testServer(repo.root);
const names = (env: EnvJson): string[] => env.propertySources.map((s) => s.name.replace(`file:${repo.root}/`, ''));

describe('GET /{name}/{profiles}', () => {
  it('lists sources most specific first: app-profile, application-profile, app, application', async () => {
    const env = await server.json<EnvJson>('/product/docker');
    expect(names(env)).toEqual(['product-docker.yml', 'application-docker.yml', 'product.yml', 'application.yml']);
    expect(env.name).toBe('product');
    expect(env.profiles).toEqual(['docker']);
    expect(env.label).toBe('main');
    expect(env.version).toMatch(/^[0-9a-f]{40}$/);
    expect(env.state).toBeNull();
    expect(env.propertySources[0]?.name).toBe(`file:${repo.root}/product-docker.yml`);
    expect(env.propertySources[2]?.source).toEqual({
      shared: 'product',
      'server.port': 7001,
      'list[0]': 'a',
      'list[1]': 'b',
    });
  });

  it('puts the later profile before the earlier one', async () => {
    const env = await server.json<EnvJson>('/product/dev,docker');
    expect(names(env)).toEqual([
      'product-docker.yml',
      'application-docker.yml',
      'product-dev.properties',
      'application-dev.properties',
      'product.yml',
      'application.yml',
    ]);
    expect(env.profiles).toEqual(['dev', 'docker']);
    const reversed = await server.json<EnvJson>('/product/docker,dev');
    expect(names(reversed)[0]).toBe('product-dev.properties');
  });

  it('serves application files alone for an app without files, and application once for "application"', async () => {
    expect(names(await server.json<EnvJson>('/unknown/default'))).toEqual(['application.yml']);
    expect(names(await server.json<EnvJson>('/application/docker'))).toEqual([
      'application-docker.yml',
      'application.yml',
    ]);
  });

  it('keeps hyphenated application names whole', async () => {
    expect(names(await server.json<EnvJson>('/product-composite/default'))).toEqual([
      'product-composite.yml',
      'application.yml',
    ]);
  });

  it('serves profile documents of a multi-document YAML file before its base document', async () => {
    const env = await server.json<EnvJson>('/multi/docker');
    expect(names(env)).toEqual([
      'application-docker.yml',
      'multi.yml (document #1)',
      'multi.yml (document #0)',
      'application.yml',
    ]);
    expect(env.propertySources[1]?.source['a']).toBe('docker-doc');
  });

  it('searches a label directory before the root (a later location wins, as in Spring Boot)', async () => {
    const env = await server.json<EnvJson>('/product/default/v1');
    expect(names(env)).toEqual(['v1/product.yml', 'v1/application.yml', 'product.yml', 'application.yml']);
    expect(env.label).toBe('v1');
  });

  it('reads (_) and %2F in a label as /', async () => {
    for (const label of ['feature(_)x', 'feature%2Fx']) {
      const env = await server.json<EnvJson>(`/product/default/${label}`);
      expect(names(env)[0]).toBe('feature/x/product.yml');
      expect(env.label).toBe('feature/x');
    }
  });

  it('serves the default label without a directory', async () => {
    expect(names(await server.json<EnvJson>('/product/default/main'))).toEqual(['product.yml', 'application.yml']);
  });

  it('answers 404 for an unknown label', async () => {
    const res = await server.get('/product/default/nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ status: 404, error: 'Not Found', message: 'No such label: nope' });
  });

  it('keeps placeholders as written in the JSON (clients resolve them)', async () => {
    const env = await server.json<EnvJson>('/review/default');
    expect(env.propertySources[0]?.source['url']).toBe('http://${host:localhost}:${port}');
  });

  it('answers the v2 media type with {value, origin} pairs', async () => {
    const res = await server.get('/product/docker', { accept: 'application/vnd.spring-cloud.config-server.v2+json' });
    expect(res.headers.get('content-type')).toBe('application/vnd.spring-cloud.config-server.v2+json');
    const env = (await res.json()) as {
      propertySources: { source: Record<string, { value: unknown; origin: string }> }[];
    };
    expect(env.propertySources[0]?.source['mongo.host']).toEqual({
      value: 'mongodb',
      origin: `file [${repo.root}/product-docker.yml] - 2:13`,
    });
    const plain = await server.json<EnvJson>('/product/docker', { accept: 'application/json' });
    expect(plain.propertySources[0]?.source['mongo.host']).toBe('mongodb');
  });

  it('names sources relative to a relative repository path, as Spring does', async () => {
    const rel = relative(process.cwd(), repo.root);
    const backend = createNativeBackend({ root: `./${rel}`, defaultLabel: 'main' });
    const env = await backend.findOne({ applications: ['product'], profiles: ['docker'] });
    expect(env.propertySources[0]?.name).toBe(`file:${rel}/product-docker.yml`);
  });
});

describe('bad input', () => {
  const cases: [string, number][] = [
    ['/..%2Fsecret/default', 400],
    ['/a..b/default', 400],
    ['/product/default/..%2F..%2Fetc', 400],
    ['/product/default/%2E%2E%2Fx', 400],
    ['/product%23x/default', 400],
    ['/product/default/v1%23x', 400],
    ['/(_)etc/default', 400],
    ['/product/default/(_)etc', 400],
    ['/product/-bad', 400],
    ['/product/bad-', 400],
    ['/product/dev,,docker', 400],
    ['/product/de%20v', 400],
    ['/product/default/unknown-label', 404],
    ['/product/default/%E0%A4%A', 404],
  ];
  it.each(cases)('GET %s answers %i with a reason and no stack', async (path, status) => {
    const res = await server.get(path);
    expect(res.status).toBe(status);
    const body = (await res.json()) as { message: string };
    expect(body.message.length).toBeGreaterThan(0);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts|Error:/);
  });

  it('gives each refused name or label its own reason', async () => {
    const reasons: [string, string][] = [
      ['/a..b/default', 'name must not contain ".."'],
      ['/product%23x/default', 'name must not contain "#"'],
      ['/product/default/v1%5Cx', 'label must not contain "\\"'],
      ['/product/default/v1%00x', 'label must not contain a NUL character'],
      ['/%2Fetc/default', 'name must not start with "/"'],
      ['/product/default/(_)etc', 'label must not start with (_)'],
    ];
    for (const [path, reason] of reasons) {
      const res = await server.get(path);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { message: string }).message, path).toBe(`Invalid Request: ${reason}`);
    }
  });

  it('still serves normally after bad requests', async () => {
    expect((await server.json<EnvJson>('/product/docker')).propertySources).toHaveLength(4);
  });
});
