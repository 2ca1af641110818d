import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createEncryptorFromKey } from '../../src/cipher/index.ts';
import { expectCipherError } from './helpers.ts';
import { rsaPem, vectors } from './vectors.ts';

describe('createEncryptorFromKey (Spring EncryptorFactory for encrypt.key)', () => {
  it('makes a symmetric encryptor from a password, with encrypt.salt', () => {
    const vector = vectors.symmetric.vectors[1]!;
    const encryptor = createEncryptorFromKey(vector.key, { salt: vector.salt });
    expect(encryptor.kind).toBe('symmetric');
    expect(encryptor.decrypt(vector.ciphertext)).toBe(vector.plaintext);
  });

  it('makes an RSA DEFAULT/deadbeef/CBC encryptor from a PEM and ignores encrypt.salt for it, as Spring does', () => {
    const vector = vectors.asymmetric.vectors.find((v) => v.config.startsWith('encrypt.key='))!;
    const encryptor = createEncryptorFromKey(rsaPem, { salt: '5c0744940b5c369b' });
    expect(encryptor.kind === 'rsa' && encryptor.algorithm).toBe('DEFAULT');
    expect(encryptor.kind === 'rsa' && encryptor.strong).toBe(false);
    expect(encryptor.decrypt(vector.ciphertext)).toBe(vector.plaintext);
  });

  it('applies explicit encrypt.rsa.* settings to a PEM', () => {
    const vector = vectors.asymmetric.vectors.find((v) => v.algorithm === 'OAEP' && v.strong)!;
    const encryptor = createEncryptorFromKey(rsaPem, { rsa: { algorithm: 'OAEP', strong: true, salt: vector.salt } });
    expect(encryptor.decrypt(vector.ciphertext)).toBe(vector.plaintext);
  });

  it('reads a PKCS#8 PEM as a key, not as a password', () => {
    const pkcs8 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    expect(createEncryptorFromKey(pkcs8.toString()).kind).toBe('rsa');
  });

  it('makes an encrypt-only encryptor from a public key', () => {
    for (const key of [vectors.asymmetric.publicKeySpkiPem, vectors.asymmetric.springKeyEndpointFormat]) {
      const encryptor = createEncryptorFromKey(key);
      expect(encryptor.kind).toBe('rsa');
      expect(encryptor.canDecrypt).toBe(false);
      expectCipherError(() => encryptor.decrypt(vectors.asymmetric.vectors[0]!.ciphertext), 'decryption_unsupported');
    }
  });

  it('refuses a broken PEM instead of using it as a password', () => {
    expectCipherError(
      () => createEncryptorFromKey('-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----'),
      'invalid_key',
    );
  });
});
