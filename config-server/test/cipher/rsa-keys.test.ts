import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createRsaEncryptor,
  parseRsaPrivateKey,
  parseRsaPublicKey,
  rsaPublicKeyToSsh,
} from '../../src/cipher/index.ts';
import { expectCipherError } from './helpers.ts';
import { rsaPem, vectors } from './vectors.ts';

const expected = vectors.asymmetric.springKeyEndpointFormat;

/** Splits the ssh wire blob into its length-prefixed strings. */
function sshFields(line: string): Buffer[] {
  const blob = Buffer.from(line.split(' ')[1]!, 'base64');
  const fields: Buffer[] = [];
  for (let offset = 0; offset < blob.length;) {
    const length = blob.readUInt32BE(offset);
    fields.push(blob.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return fields;
}

describe('GET /key format (Spring RsaKeyHelper.encodePublicKey)', () => {
  it('equals what Spring serves for the vector key, from the private PEM', () => {
    expect(rsaPublicKeyToSsh(rsaPem)).toBe(expected);
  });

  it('equals it from the SPKI public PEM, a KeyObject and the encryptor', () => {
    expect(rsaPublicKeyToSsh(vectors.asymmetric.publicKeySpkiPem)).toBe(expected);
    expect(rsaPublicKeyToSsh(createPublicKey(rsaPem))).toBe(expected);
    expect(rsaPublicKeyToSsh(parseRsaPrivateKey(rsaPem))).toBe(expected);
    expect(createRsaEncryptor({ privateKeyPem: rsaPem }).sshPublicKey()).toBe(expected);
    expect(createRsaEncryptor({ publicKeyPem: vectors.asymmetric.publicKeySpkiPem }).sshPublicKey()).toBe(expected);
  });

  it('writes "ssh-rsa", e = 65537 in 3 bytes, and n with the 0x00 an mpint needs when its top bit is set', () => {
    const [type, e, n] = sshFields(rsaPublicKeyToSsh(rsaPem));
    expect(type!.toString()).toBe('ssh-rsa');
    expect(e!.toString('hex')).toBe('010001');
    expect(n!.length).toBe(257);
    expect(n![0]).toBe(0x00);
    expect(n![1]! & 0x80).toBe(0x80);
  });

  it('adds no 0x00 when the modulus top bit is clear (1028-bit key)', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1028 });
    const [, , n] = sshFields(rsaPublicKeyToSsh(publicKey));
    expect(n!.length).toBe(129);
    expect(n![0]).not.toBe(0);
    expect(n![0]! & 0x80).toBe(0);
  });

  it('takes a custom comment', () => {
    expect(rsaPublicKeyToSsh(rsaPem, 'configserver')).toBe(expected.replace(/ application$/, ' configserver'));
  });

  it('reads the ssh line back to the same key', () => {
    const parsed = parseRsaPublicKey(expected);
    expect(parsed.export({ format: 'jwk' })).toEqual(createPublicKey(rsaPem).export({ format: 'jwk' }));
  });

  it('refuses a key object that is not RSA', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expectCipherError(() => rsaPublicKeyToSsh(privateKey), 'invalid_key');
  });
});

describe('PEM shapes Spring tolerates', () => {
  const body = rsaPem.split('\n').slice(1, -1);

  it('reads a PEM re-indented by YAML', () => {
    const indented = [
      '-----BEGIN RSA PRIVATE KEY-----',
      ...body.map((l) => `    ${l}`),
      '  -----END RSA PRIVATE KEY-----',
    ];
    expect(rsaPublicKeyToSsh(indented.join('\n'))).toBe(expected);
  });

  it('reads a PEM whose newlines were removed (EncryptorFactory strips "\\n *")', () => {
    expect(rsaPublicKeyToSsh(rsaPem.replace(/\n */g, ''))).toBe(expected);
  });

  it('reads a PEM with CRLF line ends', () => {
    expect(rsaPublicKeyToSsh(rsaPem.replace(/\n/g, '\r\n'))).toBe(expected);
  });

  it('refuses a PEM whose body is not base64', () => {
    expectCipherError(
      () => parseRsaPrivateKey('-----BEGIN RSA PRIVATE KEY-----\n!!!\n-----END RSA PRIVATE KEY-----'),
      'invalid_key',
    );
  });

  it('refuses a truncated ssh-rsa line', () => {
    expectCipherError(() => parseRsaPublicKey(`ssh-rsa ${expected.split(' ')[1]!.slice(0, 40)} x`), 'invalid_key');
  });

  it('refuses an ssh key of another type', () => {
    expectCipherError(
      () => parseRsaPublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl x'),
      'invalid_key',
    );
  });
});
