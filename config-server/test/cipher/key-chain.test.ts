import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKeyChain, createRsaEncryptor, createSymmetricEncryptor } from '../../src/cipher/index.ts';
import { expectCipherError } from './helpers.ts';
import { springRsaDecrypt } from './spring-reference.ts';
import { rsaPem, vectors } from './vectors.ts';

const springVector = vectors.asymmetric.vectors[0]!; // DEFAULT, deadbeef, CBC
const v1 = createRsaEncryptor({ privateKeyPem: rsaPem });
const v2Pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs1' });
const v2 = createRsaEncryptor({ privateKeyPem: v2Pem.toString() });
const symmetricVector = vectors.symmetric.vectors[0]!;
const symmetric = createSymmetricEncryptor({ key: symmetricVector.key, salt: symmetricVector.salt });

describe('createKeyChain', () => {
  describe('rotation from v1 (old, Spring-written values) to v2 (active)', () => {
    const chain = createKeyChain({ default: v1, keys: { v1, v2 }, activeAlias: 'v2' });

    it('encrypts new values with the active key and labels them {key:v2}', () => {
      const value = chain.encrypt('new secret');
      expect(value.startsWith('{key:v2}')).toBe(true);
      const payload = value.slice('{key:v2}'.length);
      expect(
        springRsaDecrypt(v2Pem.toString(), payload, { algorithm: 'DEFAULT', strong: false, salt: 'deadbeef' }),
      ).toBe('new secret');
      expectCipherError(() => v1.decrypt(payload), 'invalid_ciphertext');
    });

    it('decrypts its own output with or without the {cipher} marker', () => {
      const value = chain.encrypt('round trip');
      expect(chain.decrypt(value)).toBe('round trip');
      expect(chain.decrypt(`{cipher}${value}`)).toBe('round trip');
    });

    it('still decrypts old values that name the old key', () => {
      expect(chain.decrypt(`{cipher}{key:v1}${springVector.ciphertext}`)).toBe(springVector.plaintext);
    });

    it('decrypts unlabelled values with the default key', () => {
      expect(chain.decrypt(springVector.cipherProperty)).toBe(springVector.plaintext);
    });

    it('ignores {secret:…}, which only unlocks keystore entries in Spring', () => {
      expect(chain.decrypt(`{cipher}{secret:whatever}{key:v1}${springVector.ciphertext}`)).toBe(springVector.plaintext);
    });

    it('fails a value labelled with the wrong key as invalid_ciphertext', () => {
      expectCipherError(() => chain.decrypt(`{cipher}{key:v2}${springVector.ciphertext}`), 'invalid_ciphertext');
    });

    it('fails an alias it does not hold as unknown_key', () => {
      expectCipherError(() => chain.decrypt(`{cipher}{key:v3}${springVector.ciphertext}`), 'unknown_key');
      expectCipherError(() => chain.encrypt('x', { keyAlias: 'v3' }), 'unknown_key');
    });

    it('encrypts with an explicitly chosen alias', () => {
      const value = chain.encrypt('pinned', { keyAlias: 'v1' });
      expect(value.startsWith('{key:v1}')).toBe(true);
      expect(v1.decrypt(value.slice('{key:v1}'.length))).toBe('pinned');
    });

    it('serves the active key on /key, or the named one', () => {
      expect(chain.sshPublicKey()).toBe(v2.sshPublicKey());
      expect(chain.sshPublicKey('v1')).toBe(vectors.asymmetric.springKeyEndpointFormat);
      expect(chain.activeAlias).toBe('v2');
      expect(chain.aliases).toEqual(['v1', 'v2']);
    });
  });

  describe('without a default', () => {
    it('uses the active key for unlabelled values', () => {
      const chain = createKeyChain({ keys: { v1 }, activeAlias: 'v1' });
      expect(chain.decrypt(springVector.ciphertext)).toBe(springVector.plaintext);
    });

    it('has no key at all when neither default nor active alias is given', () => {
      const chain = createKeyChain({ keys: { v1 } });
      expectCipherError(() => chain.decrypt(springVector.ciphertext), 'no_key');
      expectCipherError(() => chain.encrypt('x'), 'no_key');
      expect(chain.decrypt(`{key:v1}${springVector.ciphertext}`)).toBe(springVector.plaintext);
      expect(chain.sshPublicKey()).toBeUndefined();
    });

    it('reports no_key from an empty chain', () => {
      const chain = createKeyChain({});
      expectCipherError(() => chain.decrypt('abc'), 'no_key');
      expect(chain.sshPublicKey()).toBeUndefined();
    });
  });

  describe('with a single key (Spring SingleTextEncryptorLocator)', () => {
    const chain = createKeyChain({ default: symmetric });

    it('ignores {key:…} and writes no label', () => {
      expect(chain.decrypt(`{cipher}{key:anything}${symmetricVector.ciphertext}`)).toBe(symmetricVector.plaintext);
      const value = chain.encrypt('plain label-free');
      expect(value).toMatch(/^[0-9a-f]+$/);
      expect(chain.decrypt(value)).toBe('plain label-free');
    });

    it('has no public key to serve when the key is symmetric', () => {
      expect(chain.sshPublicKey()).toBeUndefined();
    });
  });

  it('refuses an active alias it does not hold', () => {
    expectCipherError(() => createKeyChain({ keys: { v1 }, activeAlias: 'v2' }), 'unknown_key');
  });

  it('refuses aliases that a {key:…} prefix could not name', () => {
    expectCipherError(() => createKeyChain({ keys: { 'a}b': v1 } }), 'invalid_key');
    expectCipherError(() => createKeyChain({ keys: { '': v1 } }), 'invalid_key');
  });

  it('does not see later changes to the options object', () => {
    const keys: Record<string, typeof v1> = { v1 };
    const chain = createKeyChain({ keys, activeAlias: 'v1' });
    keys.v2 = v2;
    expectCipherError(() => chain.locate('v2'), 'unknown_key');
  });
});

describe('createKeyChain with key store options', () => {
  it('finds aliases in any case through normalizeAlias, and labels values with the alias as configured', () => {
    const chain = createKeyChain({ keys: { v1 }, activeAlias: 'V1', normalizeAlias: (a) => a.toLowerCase() });
    const value = chain.encrypt('x');
    expect(value.startsWith('{key:V1}')).toBe(true);
    expect(chain.decrypt(`{key:v1}${value.slice('{key:V1}'.length)}`)).toBe('x');
  });

  it('asks unlock for a named key it does not hold, passing the {secret:…} of the value', () => {
    const asked: [string, string | undefined][] = [];
    const chain = createKeyChain({
      keys: { v1 },
      activeAlias: 'v1',
      unlock: (alias, secret) => {
        asked.push([alias, secret]);
        return alias === 'v2' && secret === 'pw' ? v2 : undefined;
      },
    });
    const payload = v2.encrypt('locked');
    expect(chain.decrypt(`{cipher}{key:v2}{secret:pw}${payload}`)).toBe('locked');
    expectCipherError(() => chain.decrypt(`{cipher}{key:v2}${payload}`), 'unknown_key');
    expect(chain.decrypt(`{cipher}{key:v1}{secret:ignored}${springVector.ciphertext}`)).toBe(springVector.plaintext);
    expect(asked).toEqual([
      ['v2', 'pw'],
      ['v2', undefined],
    ]);
  });
});
