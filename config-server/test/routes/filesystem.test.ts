// What a native repository's file system can throw at a request: symbolic links (never followed below the root, on
// any route, files and directories alike) and names the file system refuses (too long, not a directory, a
// directory). None of it may serve a file from elsewhere or answer 500.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempRepo, testServer } from '../helpers.ts';

const OUTSIDE = 'OUTSIDE_MARKER';
const KEY = 'CA_KEY_MARKER';
const outside = mkdtempSync(join(tmpdir(), 'fs-outside-'));
writeFileSync(join(outside, 'secret.yml'), `leaked: ${OUTSIDE}\n`);
writeFileSync(join(outside, 'notes.txt'), `${OUTSIDE}\n`);

const repo = tempRepo({
  'application.yml': 'shared: yes\n',
  'product.yml': 'port: 7001\n',
  'v1/product.yml': 'port: 7101\n',
  'tls/ca-key.pem': `${KEY}\n`,
  'docs/readme.txt': 'readme\n',
});
// Files: one pointing outside the repository, one at the CA key inside it (a link that stays inside is no better).
symlinkSync(join(outside, 'secret.yml'), join(repo.root, 'product-docker.yml'));
symlinkSync(join(repo.root, 'tls', 'ca-key.pem'), join(repo.root, 'ca.pem'));
symlinkSync('tls/ca-key.pem', join(repo.root, 'product-key.yml'));
// Directories: a label directory that is a link, one pointing outside, one at tls/.
symlinkSync(join(repo.root, 'v1'), join(repo.root, 'v9'));
symlinkSync(outside, join(repo.root, 'elsewhere'));
symlinkSync(join(repo.root, 'tls'), join(repo.root, 'certs'));
symlinkSync(join(repo.root, 'tls'), join(repo.root, 'docs', 'tls'));
// A directory where a config file is looked for.
mkdirSync(join(repo.root, 'product-folder.yml'));
afterAll(() => {
  repo.remove();
  rmSync(outside, { recursive: true, force: true });
});
const server = testServer(repo.root);

async function body(path: string): Promise<{ status: number; text: string }> {
  const res = await server.get(path);
  return { status: res.status, text: await res.text() };
}

describe('symbolic links in a native repository', () => {
  it('are never followed for property sources or renderings', async () => {
    for (const path of [
      '/product/docker',
      '/product/key',
      '/product-docker.yml',
      '/product-key.properties',
      '/main/product-docker.json',
      '/product/docker/main',
    ]) {
      const { status, text } = await body(path);
      expect(status, path).toBe(200);
      expect(text, path).not.toContain(OUTSIDE);
      expect(text, path).not.toContain(KEY);
    }
  });

  it('are never followed for plain files, whether the link is the file or a directory above it', async () => {
    for (const path of [
      '/product/default/main/ca.pem',
      '/product/default/main/product-docker.yml',
      '/product/default/main/certs/ca-key.pem',
      '/product/default/main/certs(_)ca-key.pem',
      '/product/default/main/docs/tls/ca-key.pem',
      '/product/default/main/elsewhere/notes.txt',
      '/product/default/elsewhere/notes.txt',
      '/product/default/certs/ca-key.pem',
    ]) {
      const { status, text } = await body(path);
      expect(status, path).toBe(404);
      expect(text, path).not.toContain(OUTSIDE);
      expect(text, path).not.toContain(KEY);
    }
    // The profile variant is a link: passed over for the plain file itself.
    expect(await (await server.get('/product/docker/main/product.yml')).text()).toBe('port: 7001\n');
    // The same files through real paths still serve.
    expect((await body('/product/default/main/tls/ca-key.pem')).text).toContain(KEY);
    expect((await body('/product/default/main/docs/readme.txt')).status).toBe(200);
  });

  it('a linked directory is no label directory', async () => {
    expect((await server.json<{ propertySources: unknown[] }>('/product/default/v1')).propertySources).toHaveLength(3);
    expect((await body('/product/default/v9')).status).toBe(404);
    expect((await body('/product/default/elsewhere')).status).toBe(404);
    expect((await body('/elsewhere/product-default.yml')).status).toBe(404);
  });
});

describe('names the file system refuses', () => {
  const long = 'a'.repeat(300);
  const nearly = 'b'.repeat(240);

  it('answers 400 for a name, profile, label or path segment longer than any file name', async () => {
    for (const path of [
      `/${long}/default`,
      `/product/${long}`,
      `/product/default/${long}`,
      `/${long}-default.yml`,
      `/product/default/main/${long}`,
      `/product/default/main/docs/${long}.txt`,
    ]) {
      const { status, text } = await body(path);
      expect(status, path).toBe(400);
      expect(text, path).toMatch(/longer than 255|at most 255/);
    }
  });

  it('treats names that only grow too long on disk (name plus profile and extension) as absent', async () => {
    const env = await server.json<{ propertySources: { name: string }[] }>(`/${nearly}/${nearly}`);
    expect(env.propertySources.map((s) => s.name)).toEqual([`file:${repo.root}/application.yml`]);
    expect((await body(`/product/${nearly}/main/${nearly}.txt`)).status).toBe(404);
    expect((await body(`/${nearly}-${nearly}.yml`)).status).toBe(200);
  });

  it('treats a file used as a directory, and a directory used as a file, as absent', async () => {
    expect((await body('/product/default/main/product.yml/x')).status).toBe(404);
    expect((await body('/product/default/main/tls')).status).toBe(404);
    expect((await body('/product/default/product.yml')).status).toBe(404);
    const env = await server.json<{ propertySources: { name: string }[] }>('/product/folder');
    expect(env.propertySources.map((s) => s.name)).toEqual([
      `file:${repo.root}/product.yml`,
      `file:${repo.root}/application.yml`,
    ]);
    expect((await body('/product(_)x/default')).status).toBe(200);
  });
});
