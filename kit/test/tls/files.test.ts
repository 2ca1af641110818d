import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TlsError } from '../../src/tls/errors.ts';
import { withDirLock, writeFileAtomic } from '../../src/tls/files.ts';
import { canonicalIp, resolveNames } from '../../src/tls/names.ts';
import { tempDirs } from './helpers.ts';

const temp = tempDirs();
afterEach(temp.cleanup);

describe('writeFileAtomic', () => {
  it('replaces the whole file with the given mode and leaves no temp file', async () => {
    const dir = await temp.make();
    const file = join(dir, 'server-key.pem');
    await writeFile(file, 'old content that is longer than the new one');

    await writeFileAtomic(file, 'new', 0o600);
    expect(await readFile(file, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['server-key.pem']);
    if (process.platform !== 'win32') {
      const fresh = join(dir, 'fresh.pem');
      await writeFileAtomic(fresh, 'x', 0o600);
      expect((await stat(fresh)).mode & 0o777).toBe(0o600);
    }
  });

  it('fails with unwritable_file naming the target, keeping the old content and no temp file', async () => {
    const dir = await temp.make();
    // A directory at the target path makes the final rename fail after the temp file was written.
    const target = join(dir, 'server.pem');
    await mkdir(target);

    const err: unknown = await writeFileAtomic(target, 'data', 0o644).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TlsError);
    expect(err).toMatchObject({ code: 'unwritable_file', file: target });
    expect(await readdir(dir)).toEqual(['server.pem']);
  });
});

describe('withDirLock', () => {
  it('runs holders one at a time', async () => {
    const dir = await temp.make();
    let inside = 0;
    let most = 0;
    const holder = () =>
      withDirLock(dir, async () => {
        inside += 1;
        most = Math.max(most, inside);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inside -= 1;
      });
    await Promise.all([holder(), holder(), holder()]);
    expect(most).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('takes over a lock left by a crashed process once it is stale', async () => {
    const dir = await temp.make();
    await writeFile(join(dir, '.lock'), '99999\n');
    const ran = await withDirLock(dir, () => Promise.resolve('ran'), { staleMs: 0 });
    expect(ran).toBe('ran');
  });

  it('gives up on a live lock after the timeout, naming the lock file', async () => {
    const dir = await temp.make();
    await writeFile(join(dir, '.lock'), '99999\n');
    const err: unknown = await withDirLock(dir, () => Promise.resolve('ran'), { timeoutMs: 100 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'unwritable_file', file: join(dir, '.lock') });
  });
});

describe('subject names', () => {
  it('canonicalises IP literals so equal addresses compare equal', () => {
    expect(canonicalIp('[::1]')).toBe('::1');
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIp('::ffff:127.0.0.1')).toBe('::ffff:7f00:1');
    expect(canonicalIp('fe80::1%eth0')).toBeUndefined();
    expect(canonicalIp('localhost')).toBeUndefined();
  });

  it('always covers localhost and both loopback addresses, plus a usable machine name', () => {
    expect(resolveNames({ requested: [], machine: 'Build-Box' })).toEqual({
      dns: ['build-box', 'localhost'],
      ips: ['127.0.0.1', '::1'],
    });
    // A machine name no certificate can hold is skipped rather than breaking start-up.
    expect(resolveNames({ requested: ['*.apps.test', 'bücher.test'], machine: 'bad name' })).toEqual({
      dns: ['*.apps.test', 'localhost', 'xn--bcher-kva.test'],
      ips: ['127.0.0.1', '::1'],
    });
  });
});
