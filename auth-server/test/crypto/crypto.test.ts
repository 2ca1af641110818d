import { createSecretKey } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError } from '@trellis/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { createMasterKey, loadMasterKey } from '../../src/crypto/master-key.ts';
import { generateSecret, hashSecret, verifySecret } from '../../src/crypto/secrets.ts';
import { SigningKeys, sqliteKeyRows } from '../../src/crypto/signing-keys.ts';
import { openDatabase } from '../../src/store/db.ts';
import { tempDir } from '../helpers.ts';

const dir = tempDir();
afterAll(() => dir.remove());

describe('master key', () => {
  it('seals with AES-GCM bound to the key id and refuses tampering or another key', () => {
    const key = createMasterKey(Buffer.alloc(32, 1));
    const sealed = key.seal('{"d":"private"}', 'kid-1');
    expect(sealed).not.toContain('private');
    expect(key.open(sealed, 'kid-1')).toBe('{"d":"private"}');
    expect(() => key.open(sealed, 'kid-2')).toThrow();
    const [v, iv, ct, tag] = sealed.split('.');
    const flipped = Buffer.from(ct ?? '', 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(() => key.open([v, iv, flipped.toString('base64url'), tag].join('.'), 'kid-1')).toThrow();
    expect(() => createMasterKey(Buffer.alloc(32, 2)).open(sealed, 'kid-1')).toThrow();
  });

  it('creates a mode-600 key file once and refuses one that others can read', () => {
    const first = loadMasterKey({ dataDir: dir.path });
    const again = loadMasterKey({ dataDir: dir.path });
    expect(again.open(first.seal('x', 'a'), 'a')).toBe('x');
    chmodSync(join(dir.path, 'auth-master.key'), 0o644);
    expect(() => loadMasterKey({ dataDir: dir.path })).toThrow(StartupError);
    expect(() => loadMasterKey({ dataDir: dir.path })).toThrow(/chmod 600/);
    chmodSync(join(dir.path, 'auth-master.key'), 0o600);
  });

  it('prefers the configured key encryption key over the file', () => {
    writeFileSync(join(dir.path, 'unused'), '');
    const fromSetting = loadMasterKey({ dataDir: dir.path, keyEncryptionKey: 'a long enough passphrase' });
    const fromFile = loadMasterKey({ dataDir: dir.path });
    expect(() => fromFile.open(fromSetting.seal('x', 'a'), 'a')).toThrow();
  });
});

describe('client secrets', () => {
  it('verify against a salted keyed hash and nothing else', () => {
    const pepper = createSecretKey(Buffer.alloc(32, 7));
    const secret = generateSecret();
    const stored = hashSecret(secret, pepper);
    expect(stored).not.toContain(secret);
    expect(hashSecret(secret, pepper)).not.toBe(stored); // salted
    expect(verifySecret(stored, secret, pepper)).toBe(true);
    expect(verifySecret(stored, `${secret}x`, pepper)).toBe(false);
    expect(verifySecret(stored, secret, createSecretKey(Buffer.alloc(32, 8)))).toBe(false);
    expect(verifySecret(secret, secret, pepper)).toBe(false); // a clear value is never accepted as a hash
  });
});

describe('signing keys', () => {
  it('rotates: the new key signs first, the old stays published until its retention ends', async () => {
    let now = 0;
    const keys = new SigningKeys({
      rows: sqliteKeyRows(openDatabase(':memory:')),
      master: createMasterKey(Buffer.alloc(32, 3)),
      now: () => now,
    });
    await keys.ensureCurrent('RS256');
    await keys.ensureCurrent('RS256');
    const [first] = await keys.list();
    expect(await keys.list()).toHaveLength(1);
    now = 1000;
    const second = await keys.rotate('ES256');
    expect((await keys.privateJwks()).map((k) => k.kid)).toEqual([second.kid, first?.kid]);
    expect((await keys.privateJwks())[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    now = 5000;
    expect(await keys.prune(5000)).toEqual([]);
    now = 6000;
    expect(await keys.prune(5000)).toEqual([first?.kid]);
    expect((await keys.list()).map((k) => k.kid)).toEqual([second.kid]);
  });

  it('says which setting to share when another instance sealed the keys with a key of its own', async () => {
    const rows = sqliteKeyRows(openDatabase(':memory:'));
    const made = new SigningKeys({ rows, master: createMasterKey(Buffer.alloc(32, 4)) });
    await made.ensureCurrent('RS256');
    const other = new SigningKeys({ rows, master: createMasterKey(Buffer.alloc(32, 5)), shared: true });
    await expect(other.privateJwks()).rejects.toThrow(
      /in the PostgreSQL database was sealed with another key-encryption key: every auth server sharing a database needs the same --key-encryption-key/,
    );
  });

  it('says which key to start with when the keys in the data dir were sealed with another one', async () => {
    const rows = sqliteKeyRows(openDatabase(':memory:'));
    await new SigningKeys({ rows, master: createMasterKey(Buffer.alloc(32, 4)) }).ensureCurrent('RS256');
    const other = new SigningKeys({ rows, master: createMasterKey(Buffer.alloc(32, 5)) });
    const refusal = other.privateJwks();
    await expect(refusal).rejects.toThrow(
      /in the data dir was sealed with another key-encryption key: start with the one/,
    );
    await expect(refusal).rejects.not.toThrow(/PostgreSQL|sharing a database/);
  });
});
