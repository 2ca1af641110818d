import { afterAll, describe, expect, it } from 'vitest';
import { tempRepo, testServer } from '../helpers.ts';

const repo = tempRepo({
  'product.yml': 'host: product-host\nport: 7001\n',
  'nginx.conf': 'server ${host}:${port};\n',
  'nginx-docker.conf': 'docker ${host};\n',
  'v1/nginx.conf': 'v1 ${host};\n',
  'conf/deep/file.txt': 'deep ${missing:fallback}\n',
});
afterAll(() => repo.remove());
const server = testServer(repo.root);

describe('GET /{name}/{profile}/{label}/{path}', () => {
  it('serves a plain file with placeholders resolved from the environment', async () => {
    const res = await server.get('/product/default/main/nginx.conf');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('server product-host:7001;\n');
  });

  it('prefers the profile-specific variant and the label directory', async () => {
    expect(await (await server.get('/product/docker/main/nginx.conf')).text()).toBe('docker product-host;\n');
    expect(await (await server.get('/product/default/v1/nginx.conf')).text()).toBe('v1 product-host;\n');
  });

  it('serves nested paths, with resolvePlaceholders=false honoured', async () => {
    expect(await (await server.get('/product/default/main/conf/deep/file.txt')).text()).toBe('deep fallback\n');
    expect(await (await server.get('/product/default/main/conf/deep/file.txt?resolvePlaceholders=false')).text()).toBe(
      'deep ${missing:fallback}\n',
    );
  });

  it('refuses traversal and answers 404 for missing files', async () => {
    expect((await server.get('/product/default/main/..%2F..%2Fetc%2Fpasswd')).status).toBe(400);
    expect((await server.get('/product/default/main/conf/..%2F..%2Fproduct.yml')).status).toBe(400);
    expect((await server.get('/product/default/main/missing.txt')).status).toBe(404);
  });

  it('gives each refused resource path its own reason', async () => {
    const reasons: [string, string][] = [
      ['conf/..%2Fproduct.yml', 'must not contain ".."'],
      ['conf%23x.txt', 'must not contain "#"'],
      ['conf%5Cx.txt', 'must not contain "\\"'],
      ['conf%00x.txt', 'must not contain a NUL character'],
      // `(_)` stands for `/`, so these reach the check as `conf//x.txt` and `conf/./x.txt`.
      ['conf(_)(_)x.txt', 'must not have empty segments'],
      ['conf(_).(_)x.txt', 'must not have "." segments'],
      [`${'x'.repeat(256)}.txt`, 'segments must be at most 255 characters'],
    ];
    for (const [path, reason] of reasons) {
      const res = await server.get(`/product/default/main/${path}`);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { message: string }).message, path).toBe(
        `Invalid Request: resource path ${reason}`,
      );
    }
  });
});
