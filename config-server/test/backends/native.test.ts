import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createNativeBackend } from '../../src/backends/native.ts';
import type { BackendChange, EnvironmentBackend } from '../../src/backends/types.ts';
import { createKeyChain, createSymmetricEncryptor, type KeyChain } from '../../src/cipher/index.ts';
import { silentLogger, tempRepo, testServer, type EnvJson } from '../helpers.ts';

const product = { applications: ['product'], profiles: ['docker'] };

/** Resolves with the backend's next change notice, which comes after its watcher delivered the file events. */
function nextChange(backend: EnvironmentBackend): Promise<BackendChange> {
  return new Promise((resolve) => {
    const off = backend.subscribe((change) => {
      off();
      resolve(change);
    });
  });
}

const values = async (backend: EnvironmentBackend): Promise<Record<string, unknown>[]> =>
  (await backend.findOne(product)).propertySources.map((s) => ({ ...s.source }));

describe('native backend reads while watching the repository', () => {
  const repo = tempRepo({ 'product-docker.yml': 'port: 7001\n', 'application.yml': 'shared: a\n' });
  const backend = createNativeBackend({ root: repo.root, defaultLabel: 'main', logger: silentLogger() });
  afterAll(async () => {
    await backend.close();
    repo.remove();
  });

  it('serves a steady repository from what it found, without reading it again', async () => {
    const first = await backend.findOne(product);
    expect(await backend.findOne(product)).toBe(first);
    expect(first.version).not.toBeNull();
  });

  it('serves a change as soon as the watcher has delivered it, even at the same size', async () => {
    const before = (await backend.findOne(product)).version;
    const changed = nextChange(backend);
    repo.write('product-docker.yml', 'port: 7002\n');
    expect((await changed).paths).toContain('product-docker.yml');
    expect(await values(backend)).toEqual([{ port: 7002 }, { shared: 'a' }]);
    expect((await backend.findOne(product)).version).not.toBe(before);
  });

  it('sees files that appear and disappear, in new label directories too', async () => {
    let changed = nextChange(backend);
    repo.write('product.yml', 'name: product\n');
    await changed;
    expect(await values(backend)).toEqual([{ port: 7002 }, { name: 'product' }, { shared: 'a' }]);

    changed = nextChange(backend);
    repo.write('v2/product-docker.yml', 'port: 8000\n');
    await changed;
    const labelled = await backend.findOne({ ...product, label: 'v2' });
    expect(labelled.propertySources[0]?.source).toEqual({ port: 8000 });

    changed = nextChange(backend);
    rmSync(join(repo.root, 'product.yml'));
    await changed;
    expect(await values(backend)).toEqual([{ port: 7002 }, { shared: 'a' }]);
  });

  it('does not keep what a read found while a change arrived during it', async () => {
    const changed = nextChange(backend);
    const during = backend.findOne(product);
    repo.write('product-docker.yml', 'port: 7003\n');
    await during;
    await changed;
    expect(await values(backend)).toEqual([{ port: 7003 }, { shared: 'a' }]);
  });
});

describe('native backend without a watcher', () => {
  const parent = tempRepo({});
  const root = join(parent.root, 'later');
  // The repository does not exist yet, so it cannot be watched; no retry during the test.
  const backend = createNativeBackend({ root, defaultLabel: 'main', watchRetryMs: 60_000 });
  afterAll(async () => {
    await backend.close();
    parent.remove();
  });

  it('checks the files on every read, so a change is served at once', async () => {
    expect((await backend.findOne(product)).propertySources).toEqual([]);
    mkdirSync(root);
    writeFileSync(join(root, 'product-docker.yml'), 'port: 1\n');
    expect(await values(backend)).toEqual([{ port: 1 }]);
    writeFileSync(join(root, 'product-docker.yml'), 'port: 22\n');
    expect(await values(backend)).toEqual([{ port: 22 }]);
  });
});

describe('served environments and renderings', () => {
  const key = 'cache-test-key';
  const encryptor = createSymmetricEncryptor({ key });
  const repo = tempRepo({
    'product-docker.yml': `password: '{cipher}${encryptor.encrypt('s3cret')}'\nport: 7001\n`,
    'application.yml': 'url: http://${host:localhost}:${port}\n',
  });
  let decryptions = 0;
  const chain = createKeyChain({ default: encryptor });
  const counting: KeyChain = {
    ...chain,
    activeAlias: chain.activeAlias,
    aliases: chain.aliases,
    decrypt: (value) => {
      decryptions++;
      return chain.decrypt(value);
    },
  };
  const server = testServer(repo.root, { keys: counting });
  afterAll(async () => {
    await server.backend.close();
    repo.remove();
  });

  it('decrypts once per version, not per request, and serves every variant from it', async () => {
    for (let i = 0; i < 3; i++) {
      const env = await server.json<EnvJson>('/product/docker');
      expect(env.propertySources[0]?.source['password']).toBe('s3cret');
      expect(await (await server.get('/product-docker.properties')).text()).toContain('password: s3cret');
      expect(await (await server.get('/product-docker.yml')).text()).toContain('url: http://localhost:7001');
    }
    expect(decryptions).toBe(1);
  });

  it('serves a new body right after the change has been delivered, and decrypts it again once', async () => {
    const changed = nextChange(server.backend);
    repo.write('product-docker.yml', `password: '{cipher}${encryptor.encrypt('rotated')}'\nport: 7002\n`);
    await changed;
    const env = await server.json<EnvJson>('/product/docker');
    expect(env.propertySources[0]?.source).toEqual({ password: 'rotated', port: 7002 });
    expect(await (await server.get('/product-docker.properties')).text()).toBe(
      'password: rotated\nport: 7002\nurl: http://localhost:7002',
    );
    expect(await (await server.get('/product-docker.properties?resolvePlaceholders=false')).text()).toContain(
      'url: http://${host:localhost}:${port}',
    );
    expect(decryptions).toBe(2);
  });
});

describe('native backend when the repository itself is replaced', () => {
  const parent = tempRepo({ 'one/product-docker.yml': 'port: 1\n', 'two/product-docker.yml': 'port: 2\n' });
  afterAll(() => parent.remove());

  it('follows a symbolic link switched to another checkout, which sends no event', async () => {
    const link = join(parent.root, 'current');
    symlinkSync(join(parent.root, 'one'), link);
    const backend = createNativeBackend({ root: link, defaultLabel: 'main', rootCheckMs: 10 });
    try {
      expect(await values(backend)).toEqual([{ port: 1 }]);
      symlinkSync(join(parent.root, 'two'), `${link}.next`);
      renameSync(`${link}.next`, link);
      await expect.poll(() => values(backend), { timeout: 2000 }).toEqual([{ port: 2 }]);
    } finally {
      await backend.close();
    }
  });

  it('serves a tree deleted and made again, without waiting for a retry', async () => {
    const root = join(parent.root, 'remade');
    mkdirSync(root);
    writeFileSync(join(root, 'product-docker.yml'), 'port: 3\n');
    const backend = createNativeBackend({ root, defaultLabel: 'main', watchRetryMs: 60_000, rootCheckMs: 60_000 });
    try {
      expect(await values(backend)).toEqual([{ port: 3 }]);
      const changed = nextChange(backend);
      rmSync(root, { recursive: true });
      await changed;
      mkdirSync(root);
      writeFileSync(join(root, 'product-docker.yml'), 'port: 4\n');
      expect(await values(backend)).toEqual([{ port: 4 }]);
      // The old watcher hears nothing of the new tree, so nothing read from it may be kept on its word.
      writeFileSync(join(root, 'product-docker.yml'), 'port: 5\n');
      expect(await values(backend)).toEqual([{ port: 5 }]);
    } finally {
      await backend.close();
    }
  });
});
