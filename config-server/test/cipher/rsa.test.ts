import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRsaEncryptor, createSymmetricEncryptor } from '../../src/cipher/index.ts';
import type { RsaAlgorithm } from '../../src/cipher/index.ts';
import { expectCipherError } from './helpers.ts';
import { forgeRsaDecrypt, forgeRsaEncrypt, springRsaAssemble, springRsaDecrypt } from './spring-reference.ts';
import { rsaPem, vectors } from './vectors.ts';

const spkiPem = vectors.asymmetric.publicKeySpkiPem;
const combinations: Array<{ algorithm: RsaAlgorithm; strong: boolean }> = [
  { algorithm: 'DEFAULT', strong: false },
  { algorithm: 'DEFAULT', strong: true },
  { algorithm: 'OAEP', strong: false },
  { algorithm: 'OAEP', strong: true },
];

// A second, unrelated key pair: values made for it are "foreign" to the vector key.
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherPrivatePem = other.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString();

describe('createRsaEncryptor (Spring RsaSecretEncryptor)', () => {
  describe.each(vectors.asymmetric.vectors)('vector $algorithm strong=$strong salt=$salt', (vector) => {
    const settings = { algorithm: vector.algorithm, strong: vector.strong, salt: vector.salt };
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem, ...settings });

    it('decrypts the ciphertext Spring produced', () => {
      expect(encryptor.decrypt(vector.ciphertext)).toBe(vector.plaintext);
    });

    it('decrypts the Node-made ciphertext Spring verified', () => {
      expect(encryptor.decrypt(vector.nodeGeneratedCiphertext)).toBe(vector.plaintext);
    });

    it('writes the byte layout recorded from Spring', () => {
      const bytes = Buffer.from(encryptor.encrypt(vector.plaintext), 'base64');
      const { layout } = vector;
      expect(bytes.length).toBe(layout.totalBytes);
      expect(bytes.subarray(0, 2).toString('hex')).toBe(layout.lengthPrefix);
      expect(bytes.readUInt16BE(0)).toBe(layout.rsaBlockBytes);
      expect(bytes.length - 2 - layout.rsaBlockBytes).toBe(
        layout.aesIvBytes + layout.aesBodyBytes + layout.gcmTagBytes,
      );
      // Spring's own value has the same shape, so the comparison above is against the real thing.
      expect(Buffer.from(vector.ciphertext, 'base64').length).toBe(layout.totalBytes);
    });

    it('writes values the plain Spring algorithm (node-forge RSA) decrypts', () => {
      const ours = encryptor.encrypt(vector.plaintext);
      expect(springRsaDecrypt(rsaPem, ours, settings)).toBe(vector.plaintext);
    });
  });

  describe.each(combinations)('$algorithm strong=$strong', ({ algorithm, strong }) => {
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem, algorithm, strong });

    it('round-trips text, and the reference decrypts it', () => {
      for (const text of ['', 'a', 'pässwörd ✓', 'x'.repeat(5000)]) {
        const ours = encryptor.encrypt(text);
        expect(encryptor.decrypt(ours)).toBe(text);
        expect(springRsaDecrypt(rsaPem, ours, { algorithm, strong, salt: 'deadbeef' })).toBe(text);
      }
    });

    it('lays out u16 length 0x0100, a 256-byte block, a 16-byte IV and the tag only for GCM', () => {
      const bytes = Buffer.from(encryptor.encrypt('0123456789'), 'base64');
      expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x01, 0x00]));
      const aes = bytes.length - 2 - 256;
      // CBC pads 10 bytes to one 16-byte block; GCM keeps 10 bytes and appends a 16-byte tag.
      expect(aes).toBe(strong ? 16 + 10 + 16 : 16 + 16);
    });

    it('uses a fresh secret and IV per value', () => {
      const a = Buffer.from(encryptor.encrypt('same'), 'base64');
      const b = Buffer.from(encryptor.encrypt('same'), 'base64');
      expect(a.subarray(2, 258).equals(b.subarray(2, 258))).toBe(false);
      expect(a.subarray(258, 274).equals(b.subarray(258, 274))).toBe(false);
    });

    it('rejects a value made for another key pair', () => {
      const foreign = createRsaEncryptor({ privateKeyPem: otherPrivatePem, algorithm, strong }).encrypt('secret');
      const error = expectCipherError(() => encryptor.decrypt(foreign), 'invalid_ciphertext');
      expect(error.message).toBe('Text not encrypted with this key');
    });

    it('rejects a value whose RSA block was tampered with', () => {
      const bytes = Buffer.from(encryptor.encrypt('secret'), 'base64');
      bytes[100] = bytes[100]! ^ 0x01;
      expectCipherError(() => encryptor.decrypt(bytes.toString('base64')), 'invalid_ciphertext');
    });

    it('rejects a value whose AES part was tampered with', () => {
      const bytes = Buffer.from(encryptor.encrypt('a longer secret value'), 'base64');
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x80;
      expectCipherError(() => encryptor.decrypt(bytes.toString('base64')), 'invalid_ciphertext');
    });
  });

  it('encodes a non-hex salt as hex(utf8(salt)) like RsaSecretEncryptor', () => {
    const ours = createRsaEncryptor({ privateKeyPem: rsaPem, salt: 'mysalt' }).encrypt('v');
    expect(createRsaEncryptor({ privateKeyPem: rsaPem, salt: '6d7973616c74' }).decrypt(ours)).toBe('v');
    expectCipherError(() => createRsaEncryptor({ privateKeyPem: rsaPem }).decrypt(ours), 'invalid_ciphertext');
  });

  it('does not decrypt with the other padding or AES mode than the value was made with', () => {
    const oaepGcm = vectors.asymmetric.vectors.find((v) => v.algorithm === 'OAEP' && v.strong)!;
    const defaultCbc = createRsaEncryptor({ privateKeyPem: rsaPem, salt: oaepGcm.salt });
    const defaultGcm = createRsaEncryptor({ privateKeyPem: rsaPem, salt: oaepGcm.salt, strong: true });
    const oaepCbc = createRsaEncryptor({ privateKeyPem: rsaPem, salt: oaepGcm.salt, algorithm: 'OAEP' });
    for (const wrong of [defaultCbc, defaultGcm, oaepCbc]) {
      expectCipherError(() => wrong.decrypt(oaepGcm.ciphertext), 'invalid_ciphertext');
    }
  });

  it('reads PKCS#8 private keys too', () => {
    const pkcs8 = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    const encryptor = createRsaEncryptor({ privateKeyPem: pkcs8.toString(), algorithm: 'OAEP' });
    const ours = encryptor.encrypt('pkcs8');
    expect(encryptor.decrypt(ours)).toBe('pkcs8');
    expect(springRsaDecrypt(pkcs8.toString(), ours, { algorithm: 'OAEP', strong: false, salt: 'deadbeef' })).toBe(
      'pkcs8',
    );
  });

  it('sizes the length prefix by the modulus (0x0080 for a 1024-bit key)', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs1',
    });
    const encryptor = createRsaEncryptor({ privateKeyPem: small.toString() });
    const bytes = Buffer.from(encryptor.encrypt('v'), 'base64');
    expect(bytes.subarray(0, 2).toString('hex')).toBe('0080');
    expect(encryptor.modulusBits).toBe(1024);
    expect(encryptor.decrypt(bytes.toString('base64'))).toBe('v');
  });

  it('accepts an RSA block written without its leading zero bytes, as Java does', () => {
    // About 1 block in 200 starts with 0x00; a producer that trims big integers writes it one byte shorter.
    const secret = randomBytes(16);
    let block = publicEncrypt({ key: spkiPem, padding: constants.RSA_PKCS1_PADDING }, secret);
    for (let attempt = 0; block[0] !== 0 && attempt < 20_000; attempt++) {
      block = publicEncrypt({ key: spkiPem, padding: constants.RSA_PKCS1_PADDING }, secret);
    }
    expect(block[0]).toBe(0);
    const trimmed = springRsaAssemble(block.subarray(1), secret, 'short block');
    expect(Buffer.from(trimmed, 'base64').readUInt16BE(0)).toBe(255);
    expect(createRsaEncryptor({ privateKeyPem: rsaPem }).decrypt(trimmed)).toBe('short block');
  });

  describe('with a public key only', () => {
    const publicKeys: Array<[string, string]> = [
      ['SPKI PEM', spkiPem],
      ['PKCS#1 public PEM', createPublicKey(rsaPem).export({ format: 'pem', type: 'pkcs1' }).toString()],
      ['ssh-rsa line (the /key format)', vectors.asymmetric.springKeyEndpointFormat],
    ];

    it.each(publicKeys)('encrypts with a %s for the private-key holder to decrypt', (_name, publicKeyPem) => {
      const encryptOnly = createRsaEncryptor({ publicKeyPem, algorithm: 'OAEP', strong: true });
      expect(encryptOnly.canDecrypt).toBe(false);
      const ours = encryptOnly.encrypt('from a public key');
      expect(springRsaDecrypt(rsaPem, ours, { algorithm: 'OAEP', strong: true, salt: 'deadbeef' })).toBe(
        'from a public key',
      );
    });

    it('refuses to decrypt with decryption_unsupported, even for valid values', () => {
      const encryptOnly = createRsaEncryptor({ publicKeyPem: spkiPem });
      const error = expectCipherError(
        () => encryptOnly.decrypt(vectors.asymmetric.vectors[0]!.ciphertext),
        'decryption_unsupported',
      );
      expect(error.message).toBe('Server-side decryption is not supported');
    });
  });

  describe('rejects malformed values as invalid_ciphertext without leaking anything', () => {
    const vector = vectors.asymmetric.vectors[0]!;
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem });
    const raw = Buffer.from(vector.ciphertext, 'base64');
    const withPrefix = (length: number): string => {
      const copy = Buffer.from(raw);
      copy.writeUInt16BE(length, 0);
      return copy.toString('base64');
    };
    const cases: Array<[string, string]> = [
      ['the empty string', ''],
      ['not base64', 'this is not base64!'],
      ['base64 with a line break', `${vector.ciphertext.slice(0, 40)}\n${vector.ciphertext.slice(40)}`],
      ['URL-safe base64', vector.ciphertext.replace(/\+/g, '-').replace(/\//g, '_')],
      ['too much padding', `${vector.ciphertext}=`],
      ['one byte', 'AQ=='],
      ['only the RSA block', raw.subarray(0, 258).toString('base64')],
      ['truncated inside the RSA block', raw.subarray(0, 100).toString('base64')],
      ['a partial AES block', raw.subarray(0, raw.length - 5).toString('base64')],
      ['a zero length prefix', withPrefix(0)],
      ['a length prefix longer than the key', withPrefix(257)],
      ['a length prefix past the end', withPrefix(0xffff)],
      ['a symmetric (hex) value', vectors.symmetric.vectors[0]!.ciphertext],
      [
        'an RSA block that is not below the modulus',
        Buffer.concat([raw.subarray(0, 2), Buffer.alloc(256, 0xff), raw.subarray(258)]).toString('base64'),
      ],
    ];

    it.each(cases)('%s', (_name, input) => {
      const error = expectCipherError(() => encryptor.decrypt(input), 'invalid_ciphertext');
      expect(error.message).toBe('Text not encrypted with this key');
      expect(error.message).not.toContain(vector.plaintext);
      expect(error.cause).toBeUndefined();
    });
  });

  describe('PKCS#1 v1.5 blocks that only a foreign producer would write', () => {
    const encryptor = createRsaEncryptor({ privateKeyPem: rsaPem });
    const aesPart = Buffer.from(vectors.asymmetric.vectors[0]!.ciphertext, 'base64').subarray(258);
    const withBlock = (block: Buffer): string =>
      Buffer.concat([Buffer.from([0x01, 0x00]), block, aesPart]).toString('base64');

    it.each([15, 17, 32])('fails a well-padded %i-byte secret at the AES step, not earlier', (length) => {
      const block = forgeRsaEncrypt(spkiPem, Buffer.alloc(length, 7), 'DEFAULT');
      expectCipherError(() => encryptor.decrypt(withBlock(block)), 'invalid_ciphertext');
    });

    it('decrypts when the 16-byte secret inside a forge-made block is the right one', () => {
      // Take Spring's real secret out with forge, wrap it again with fresh random padding: still Spring's value.
      const vector = vectors.asymmetric.vectors[0]!;
      const springBlock = Buffer.from(vector.ciphertext, 'base64').subarray(2, 258);
      const secret = forgeRsaDecrypt(rsaPem, springBlock, 'DEFAULT');
      expect(secret.length).toBe(16);
      const block = forgeRsaEncrypt(spkiPem, secret, 'DEFAULT');
      expect(block.equals(springBlock)).toBe(false);
      expect(encryptor.decrypt(withBlock(block))).toBe(vector.plaintext);
    });
  });

  describe('refuses unusable options', () => {
    it.each([
      ['garbage instead of a PEM', { privateKeyPem: 'not a key' }],
      ['a public key given as the private key', { privateKeyPem: spkiPem }],
      ['a private key given as the public key', { publicKeyPem: rsaPem }],
      ['an empty salt', { privateKeyPem: rsaPem, salt: '' }],
      ['an unknown algorithm', { privateKeyPem: rsaPem, algorithm: 'PSS' as RsaAlgorithm }],
    ])('%s → invalid_key', (_name, options) => {
      const error = expectCipherError(() => createRsaEncryptor(options), 'invalid_key');
      expect(error.message).not.toContain('MII');
    });

    it('an EC key → invalid_key', () => {
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
      expectCipherError(() => createRsaEncryptor({ privateKeyPem: ec.toString() }), 'invalid_key');
    });

    it('a passphrase-protected key → invalid_key', () => {
      const encrypted = other.privateKey.export({
        format: 'pem',
        type: 'pkcs8',
        cipher: 'aes-256-cbc',
        passphrase: 'pw',
      });
      expectCipherError(() => createRsaEncryptor({ privateKeyPem: encrypted.toString() }), 'invalid_key');
    });
  });

  it('is not confused with the symmetric encryptor by kind', () => {
    expect(createRsaEncryptor({ privateKeyPem: rsaPem }).kind).toBe('rsa');
    expect(createSymmetricEncryptor({ key: 'k' }).kind).toBe('symmetric');
  });
});
