import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempRepo, testServer } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'greeting: hello ${name:world}\nshared: app\n',
  'product-composite.yml':
    'name: composite\nserver:\n  port: 7000\nlist: [a, b]\nurl: http://${host:localhost}:${server.port}/x\n',
  'product-composite-docker.yml': 'host: composite-host\n',
  'v1/product-composite.yml': 'name: v1\n',
  'feature/x/product-composite.yml': 'name: fx\n',
});
afterAll(() => repo.remove());
const server = testServer(repo.root);

describe('GET /{name}-{profiles}.{ext} and /{label}/{name}-{profiles}.{ext}', () => {
  it('renders .properties as sorted key: value lines with placeholders resolved', async () => {
    const res = await server.get('/product-composite-docker.properties');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(
      [
        'greeting: hello composite',
        'host: composite-host',
        'list[0]: a',
        'list[1]: b',
        'name: composite',
        'server.port: 7000',
        'shared: app',
        'url: http://composite-host:7000/x',
      ].join('\n'),
    );
  });

  it('renders .yml and .yaml as nested YAML', async () => {
    for (const ext of ['yml', 'yaml']) {
      const res = await server.get(`/product-composite-default.${ext}`);
      expect(res.status).toBe(200);
      expect(parse(await res.text())).toEqual({
        greeting: 'hello composite',
        list: ['a', 'b'],
        name: 'composite',
        server: { port: 7000 },
        shared: 'app',
        url: 'http://localhost:7000/x',
      });
    }
  });

  it('renders .json as nested JSON', async () => {
    const res = await server.get('/product-composite-docker.json');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({ server: { port: 7000 }, list: ['a', 'b'], host: 'composite-host' });
  });

  it('leaves placeholders alone with resolvePlaceholders=false', async () => {
    const text = await (await server.get('/product-composite-docker.properties?resolvePlaceholders=false')).text();
    expect(text).toContain('url: http://${host:localhost}:${server.port}/x');
  });

  it('splits at the last hyphen and honours a label, with (_) and %2F', async () => {
    expect(await (await server.get('/v1/product-composite-default.json')).json()).toMatchObject({ name: 'v1' });
    expect(await (await server.get('/feature(_)x/product-composite-default.json')).json()).toMatchObject({
      name: 'fx',
    });
    expect(await (await server.get('/feature%2Fx/product-composite-default.json')).json()).toMatchObject({
      name: 'fx',
    });
  });

  it('answers 404 without a hyphen or for an unknown label, 400 for bad input', async () => {
    expect((await server.get('/product.yml')).status).toBe(404);
    expect((await server.get('/nolabel/product-composite-default.yml')).status).toBe(404);
    expect((await server.get('/..%2Fx/product-composite-default.yml')).status).toBe(400);
    expect((await server.get('/product-composite-bad_.yml')).status).toBe(400);
  });
});
