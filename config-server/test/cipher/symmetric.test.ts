import { describe, expect, it } from 'vitest';
import { createSymmetricEncryptor } from '../../src/cipher/index.ts';
import { expectCipherError } from './helpers.ts';
import { springTextDecrypt } from './spring-reference.ts';
import { vectors } from './vectors.ts';

describe('createSymmetricEncryptor (Spring Encryptors.text)', () => {
  describe.each(vectors.symmetric.vectors)('vector key=$key salt=$salt', (vector) => {
    const encryptor = createSymmetricEncryptor({ key: vector.key, salt: vector.salt });

    it('decrypts the ciphertext Spring produced', () => {
      expect(encryptor.decrypt(vector.ciphertext)).toBe(vector.plaintext);
    });

    it('decrypts the Node-made ciphertext Spring verified', () => {
      expect(encryptor.decrypt(vector.nodeGeneratedCiphertext)).toBe(vector.plaintext);
    });

    it('writes lowercase hex(IV ‖ CBC blocks) that the plain Spring algorithm decrypts', () => {
      const ours = encryptor.encrypt(vector.plaintext);
      expect(ours).toMatch(/^[0-9a-f]+$/);
      const bytes = Buffer.from(ours, 'hex');
      const padded = (Math.floor(Buffer.byteLength(vector.plaintext, 'utf8') / 16) + 1) * 16;
      expect(bytes.length).toBe(16 + padded);
      expect(springTextDecrypt(vector.key, vector.salt, ours)).toBe(vector.plaintext);
    });
  });

  it('uses deadbeef as the default salt, like encrypt.salt', () => {
    const vector = vectors.symmetric.vectors.find((v) => v.salt === 'deadbeef')!;
    expect(createSymmetricEncryptor({ key: vector.key }).decrypt(vector.ciphertext)).toBe(vector.plaintext);
  });

  it('uses a fresh IV for every value so equal plaintexts do not look equal', () => {
    const encryptor = createSymmetricEncryptor({ key: 'k' });
    const a = encryptor.encrypt('same');
    const b = encryptor.encrypt('same');
    expect(a).not.toBe(b);
    expect(a.slice(0, 32)).not.toBe(b.slice(0, 32));
  });

  it('round-trips empty, long and non-BMP text', () => {
    const encryptor = createSymmetricEncryptor({ key: 'k', salt: 'ABCDEF01' });
    for (const text of ['', 'x'.repeat(10_000), '🔐 clé ключ 鍵']) {
      expect(encryptor.decrypt(encryptor.encrypt(text))).toBe(text);
    }
  });

  it('accepts upper-case hex as Spring Hex.decode does', () => {
    const vector = vectors.symmetric.vectors[0]!;
    const encryptor = createSymmetricEncryptor({ key: vector.key, salt: vector.salt.toUpperCase() });
    expect(encryptor.decrypt(vector.ciphertext.toUpperCase())).toBe(vector.plaintext);
  });

  it('reports itself as a symmetric encryptor that can decrypt', () => {
    const encryptor = createSymmetricEncryptor({ key: 'k' });
    expect(encryptor.kind).toBe('symmetric');
    expect(encryptor.canDecrypt).toBe(true);
  });

  describe('rejects what is not its ciphertext as invalid_ciphertext without leaking anything', () => {
    const vector = vectors.symmetric.vectors[1]!;
    const encryptor = createSymmetricEncryptor({ key: vector.key, salt: vector.salt });
    const cases: Array<[string, string]> = [
      ['odd-length hex', vector.ciphertext.slice(1)],
      ['non-hex characters', `zz${vector.ciphertext.slice(2)}`],
      ['hex with whitespace', ` ${vector.ciphertext}`],
      ['only an IV', vector.ciphertext.slice(0, 32)],
      ['a partial block', vector.ciphertext.slice(0, 40)],
      ['a last block removed (padding destroyed)', vector.ciphertext.slice(0, -32)],
      ['the empty string', ''],
      ['base64 (an RSA value)', vectors.asymmetric.vectors[0]!.ciphertext],
      ['a value from another key', createSymmetricEncryptor({ key: 'other' }).encrypt(vector.plaintext)],
      ['a value with another salt', createSymmetricEncryptor({ key: vector.key, salt: 'deadbeef' }).encrypt('x')],
    ];
    it.each(cases)('%s', (_name, input) => {
      const error = expectCipherError(() => encryptor.decrypt(input), 'invalid_ciphertext');
      expect(error.message).toBe('Text not encrypted with this key');
      expect(error.message).not.toContain(vector.key);
      expect(error.cause).toBeUndefined();
    });

    it('also rejects the right ciphertext under the wrong password', () => {
      const wrong = createSymmetricEncryptor({ key: `${vector.key}x`, salt: vector.salt });
      const error = expectCipherError(() => wrong.decrypt(vector.ciphertext), 'invalid_ciphertext');
      expect(error.message).not.toContain(vector.plaintext);
    });
  });

  describe('refuses unusable options as invalid_key', () => {
    it.each([
      ['an empty key', { key: '' }],
      ['a non-hex salt (Spring only converts the RSA salt)', { key: 'k', salt: 'mysalt' }],
      ['an odd-length salt', { key: 'k', salt: 'abc' }],
      ['an empty salt (PBEKeySpec refuses it)', { key: 'k', salt: '' }],
    ])('%s', (_name, options) => {
      const error = expectCipherError(() => createSymmetricEncryptor(options), 'invalid_key');
      expect(error.message).not.toContain('mysalt');
    });
  });
});
