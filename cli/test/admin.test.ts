import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/main.ts';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-admin-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

async function run(argv: string[], stdin = ''): Promise<{ out: string; err: string; code: number | undefined }> {
  let out = '';
  let err = '';
  let code: number | undefined;
  await main(
    [...argv, '--data-dir', dataDir],
    {},
    {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      exit: (c) => {
        code = c;
      },
      readStdin: () => Promise.resolve(stdin),
    },
  );
  return { out, err, code };
}

describe('trellis clients', () => {
  it('adds a client and shows its secret once, then lists, rotates and removes it', async () => {
    const added = await run(['clients', 'add', 'review', '--scope', 'product:read']);
    expect(added.code).toBe(0);
    const created = JSON.parse(added.out) as { client_id: string; client_secret: string; scope: string };
    expect(created).toMatchObject({ client_id: 'review', scope: 'product:read' });
    expect(created.client_secret.length).toBeGreaterThanOrEqual(32);

    const listed = await run(['clients', 'list']);
    expect(listed.out).toContain('"client_id": "review"');
    expect(listed.out).not.toContain(created.client_secret);

    const rotated = JSON.parse((await run(['clients', 'rotate-secret', 'review'])).out) as { client_secret: string };
    expect(rotated.client_secret).not.toBe(created.client_secret);

    expect((await run(['clients', 'remove', 'review'])).out).toBe('removed client review\n');
    const gone = await run(['clients', 'show', 'review']);
    expect(gone.code).toBe(2);
    expect(gone.err).toMatch(/^trellis: .*review.*\n$/);
  });

  it('refuses an unknown action with one line and exit 2', async () => {
    const r = await run(['clients', 'frobnicate']);
    expect(r).toEqual({
      out: '',
      err: 'trellis: unknown clients action "frobnicate" (see trellis clients --help)\n',
      code: 2,
    });
  });
});

describe('trellis users', () => {
  it('adds a user with the password from standard input, never echoing it', async () => {
    const added = await run(['users', 'add', 'alice', '--name', 'Alice'], 'correct horse battery staple\n');
    expect(added.code).toBe(0);
    expect(added.out).toContain('"username": "alice"');
    expect(added.out).not.toContain('correct horse');
    expect((await run(['users', 'list'])).out).toContain('"alice"');
    expect((await run(['users', 'add', 'bob'], '')).err).toBe('trellis: no password on standard input\n');
  });
});

describe('trellis auth-server rotate-keys', () => {
  it('adds a new current signing key', async () => {
    const first = await run(['auth-server', 'rotate-keys']);
    const second = await run(['auth-server', 'rotate-keys', '--alg', 'ES256']);
    expect(first.code).toBe(0);
    const a = JSON.parse(first.out) as { kid: string };
    const b = JSON.parse(second.out) as { kid: string; alg: string };
    expect(b.kid).not.toBe(a.kid);
    expect(b.alg).toBe('ES256');
  });
});
