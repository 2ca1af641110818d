// Byte compatibility with Spring for key store keys, both directions, from keystore-vectors.json: key stores made by
// keytool, ciphertexts and /key lines made for them by Spring Security's KeyStoreKeyFactory + RsaSecretEncryptor, and
// ciphertexts of ours that those Spring classes decrypted (see fixtures/record-keystore-vectors.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKeyChain } from '../src/load-key-chain.ts';
import type { RecordedStore, RecordedVector as Vector } from './fixtures/keystore-vectors.ts';
import { tempRepo, testServer, type EnvJson } from './helpers.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/keystore-vectors.json', import.meta.url), 'utf8')) as {
  stores: Record<string, RecordedStore>;
  vectors: Vector[];
};
const dir = mkdtempSync(join(tmpdir(), 'keystore-vectors-'));
const repo = tempRepo({});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  repo.remove();
});

async function chainFor(v: Vector, defaultAlias = v.alias) {
  const store = fixture.stores[v.store];
  if (store === undefined) throw new Error(`no store ${v.store}`);
  const path = join(dir, store.file);
  writeFileSync(path, Buffer.from(store.base64, 'base64'));
  const chain = await loadKeyChain({
    keyStorePath: path,
    keyStorePassword: store.storePassword,
    keyStoreAlias: defaultAlias,
    keyStoreSecret: v.secret,
    rsaAlgorithm: v.algorithm,
    rsaStrong: v.strong,
    rsaSalt: v.salt,
  });
  if (chain === undefined) throw new Error('no key chain');
  return chain;
}

describe('key store vectors recorded from Spring', () => {
  it('holds a vector of each store type, algorithm and AES mode, all verified by Spring', () => {
    const kinds = new Set(fixture.vectors.map((v) => `${v.algorithm}/${v.strong}`));
    expect(kinds).toEqual(new Set(['DEFAULT/false', 'DEFAULT/true', 'OAEP/false', 'OAEP/true']));
    expect(new Set(fixture.vectors.map((v) => v.store))).toEqual(new Set(['jks', 'pkcs12']));
    expect(fixture.vectors.every((v) => v.verified.springDecryptsNodeCiphertext)).toBe(true);
  });

  describe.each(fixture.vectors.map((v) => [`${v.store} ${v.alias} ${v.algorithm} strong=${v.strong}`, v] as const))(
    '%s',
    (_name, v) => {
      it("decrypts Spring's ciphertext labelled with its alias (and secret), and unlabelled as the default alias", async () => {
        // The default alias is another entry where the store has one, so the label has to do the choosing.
        const other = fixture.stores[v.store]?.entries.find((e) => e.alias.toLowerCase() !== v.alias.toLowerCase());
        const labelled = await chainFor(v, other?.keyPassword === v.secret ? other.alias : v.alias);
        expect(labelled.decrypt(`{cipher}{key:${v.alias}}{secret:${v.secret}}${v.springCiphertext}`)).toBe(v.plaintext);
        const asDefault = await chainFor(v);
        expect(asDefault.decrypt(`{cipher}${v.springCiphertext}`)).toBe(v.plaintext);
      });

      it('decrypts our ciphertext that Spring decrypted, and serves the /key line Spring serves', async () => {
        const chain = await chainFor(v);
        expect(chain.decrypt(v.nodeCiphertext)).toBe(v.plaintext);
        expect(chain.locate(v.alias, v.secret).kind).toBe('rsa');
        const server = testServer(repo.root, { keys: chain });
        expect(await (await server.get('/key')).text()).toBe(v.springPublicKey);
      });
    },
  );

  it('serves Spring-encrypted key store values decrypted in an environment', async () => {
    const v = fixture.vectors.find((x) => x.store === 'jks' && x.alias === 'locked');
    const old = fixture.vectors.find((x) => x.store === 'jks' && x.alias === 'old');
    if (v === undefined || old === undefined) throw new Error('fixture lacks the jks vectors');
    const chain = await chainFor(old);
    repo.write(
      'spring-keystore.yml',
      [
        `old: '{cipher}${old.springCiphertext}'`,
        `locked: '{cipher}{key:${v.alias}}{secret:${v.secret}}${v.springCiphertext}'`,
      ].join('\n'),
    );
    const served = await testServer(repo.root, { keys: chain }).json<EnvJson>('/spring-keystore/default');
    // The locked vector used another salt than `old`'s settings, so only `old` decrypts here, as in Spring.
    expect(served.propertySources[0]?.source).toEqual({ old: old.plaintext, 'invalid.locked': '<n/a>' });
  });
});
