// Watches node:crypto to prove two properties that results alone cannot show: the symmetric key is derived once per
// encryptor, and a bad RSA padding does not short-cut the PBKDF2 + AES work (no timing difference to exploit).
import * as crypto from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createRsaEncryptor, createSymmetricEncryptor } from '../../src/cipher/index.ts';
import { expectCipherError } from './helpers.ts';
import { rsaPem, vectors } from './vectors.ts';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof crypto>();
  return {
    ...original,
    pbkdf2Sync: vi.fn(original.pbkdf2Sync),
    privateDecrypt: vi.fn(original.privateDecrypt),
    createDecipheriv: vi.fn(original.createDecipheriv),
  };
});

const pbkdf2Sync = vi.mocked(crypto.pbkdf2Sync);
const privateDecrypt = vi.mocked(crypto.privateDecrypt);
const createDecipheriv = vi.mocked(crypto.createDecipheriv);

beforeEach(() => {
  vi.clearAllMocks();
});

describe('work done per call', () => {
  it('derives the symmetric key once, not per value', () => {
    const vector = vectors.symmetric.vectors[0]!;
    const encryptor = createSymmetricEncryptor({ key: vector.key, salt: vector.salt });
    expect(pbkdf2Sync).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 5; i++) encryptor.decrypt(encryptor.encrypt(`value ${i}`));
    encryptor.decrypt(vector.ciphertext);
    expect(pbkdf2Sync).toHaveBeenCalledTimes(1);
  });

  it('never asks OpenSSL for PKCS#1 v1.5 private decryption (refused since Node 20.11)', () => {
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem });
    expect(encryptor.decrypt(vectors.asymmetric.vectors[0]!.ciphertext)).toBe('hello world');
    expect(privateDecrypt).toHaveBeenCalledTimes(1);
    const options = privateDecrypt.mock.calls[0]![0] as crypto.RsaPrivateKey;
    expect(options.padding).toBe(crypto.constants.RSA_NO_PADDING);
  });

  it('goes on to PBKDF2 and AES when the RSA padding is bad, like for a good block with a wrong secret', () => {
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem });
    const bytes = Buffer.from(vectors.asymmetric.vectors[0]!.ciphertext, 'base64');
    bytes[2] = bytes[2]! ^ 0x55; // scrambles the whole decrypted block, padding included
    expectCipherError(() => encryptor.decrypt(bytes.toString('base64')), 'invalid_ciphertext');
    expect(pbkdf2Sync).toHaveBeenCalledTimes(1);
    expect(createDecipheriv).toHaveBeenCalledTimes(1);
  });

  it('does the same for a bad OAEP block', () => {
    const vector = vectors.asymmetric.vectors.find((v) => v.algorithm === 'OAEP')!;
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem, algorithm: 'OAEP', strong: vector.strong });
    const bytes = Buffer.from(vector.ciphertext, 'base64');
    bytes[200] = bytes[200]! ^ 0x01;
    expectCipherError(() => encryptor.decrypt(bytes.toString('base64')), 'invalid_ciphertext');
    expect(pbkdf2Sync).toHaveBeenCalledTimes(1);
    expect(createDecipheriv).toHaveBeenCalledTimes(1);
  });

  it('answers the same forged value the same way every time (implicit rejection is deterministic)', () => {
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem });
    const bytes = Buffer.from(vectors.asymmetric.vectors[0]!.ciphertext, 'base64');
    bytes[10] = bytes[10]! ^ 0x01;
    const forged = bytes.toString('base64');
    expectCipherError(() => encryptor.decrypt(forged), 'invalid_ciphertext');
    expectCipherError(() => encryptor.decrypt(forged), 'invalid_ciphertext');
    const passwords = pbkdf2Sync.mock.calls.map((call) => Buffer.from(call[0] as Buffer).toString());
    expect(passwords).toHaveLength(2);
    expect(passwords[0]).toBe(passwords[1]);
  });
});
