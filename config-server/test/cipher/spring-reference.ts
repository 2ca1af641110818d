// An independent, deliberately naive implementation of Spring's algorithms, used only to check that what we write is
// what Spring reads. It shares no code with src/: RSA comes from node-forge (which still does PKCS#1 v1.5 decryption
// itself), PBKDF2 and AES from node:crypto called directly, every step written out as Spring's classes do it.
import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { RsaAlgorithm } from '../../src/cipher/index.ts';

function aesKey(password: string, hexSalt: string): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), Buffer.from(hexSalt, 'hex'), 1024, 32, 'sha1');
}

/** `Encryptors.text(password, salt).decrypt(hex)`. */
export function springTextDecrypt(password: string, hexSalt: string, hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  const decipher = createDecipheriv('aes-256-cbc', aesKey(password, hexSalt), bytes.subarray(0, 16));
  return Buffer.concat([decipher.update(bytes.subarray(16)), decipher.final()]).toString('utf8');
}

export interface SpringRsaSettings {
  readonly algorithm: RsaAlgorithm;
  readonly strong: boolean;
  /** As configured; a non-hex salt is hex(utf8(salt)) in RsaSecretEncryptor. */
  readonly salt: string;
}

/** `new RsaSecretEncryptor(keyPair, algorithm, salt, strong).decrypt(base64)`. */
export function springRsaDecrypt(privateKeyPem: string, base64: string, settings: SpringRsaSettings): string {
  const bytes = Buffer.from(base64, 'base64');
  const length = bytes.readUInt16BE(0);
  const block = bytes.subarray(2, 2 + length);
  const payload = bytes.subarray(2 + length);

  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const scheme = settings.algorithm === 'OAEP' ? 'RSA-OAEP' : 'RSAES-PKCS1-V1_5';
  const random = Buffer.from(privateKey.decrypt(block.toString('binary'), scheme), 'binary');
  const password = random.toString('hex');

  const hexSalt = /^([0-9a-fA-F]{2})*$/.test(settings.salt)
    ? settings.salt
    : Buffer.from(settings.salt, 'utf8').toString('hex');
  const key = aesKey(password, hexSalt);
  const iv = payload.subarray(0, 16);
  if (settings.strong) {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAuthTag(payload.subarray(payload.length - 16));
    return Buffer.concat([decipher.update(payload.subarray(16, payload.length - 16)), decipher.final()]).toString(
      'utf8',
    );
  }
  const decipher = createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([decipher.update(payload.subarray(16)), decipher.final()]).toString('utf8');
}

/** RSA-wraps an arbitrary secret as a foreign producer might, to build ciphertexts Spring itself never writes. */
export function forgeRsaEncrypt(publicKeyPem: string, secret: Buffer, algorithm: RsaAlgorithm): Buffer {
  const publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  const scheme = algorithm === 'OAEP' ? 'RSA-OAEP' : 'RSAES-PKCS1-V1_5';
  return Buffer.from(publicKey.encrypt(secret.toString('binary'), scheme), 'binary');
}

/** Unwraps an RSA block with node-forge, to inspect what a ciphertext really carries. */
export function forgeRsaDecrypt(privateKeyPem: string, block: Buffer, algorithm: RsaAlgorithm): Buffer {
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const scheme = algorithm === 'OAEP' ? 'RSA-OAEP' : 'RSAES-PKCS1-V1_5';
  return Buffer.from(privateKey.decrypt(block.toString('binary'), scheme), 'binary');
}

/**
 * Builds a DEFAULT/CBC RsaSecretEncryptor value around an RSA block the caller already made for `secret`, the way
 * Spring assembles it: u16 length ‖ block ‖ IV ‖ AES-CBC(text) with password hex(secret) and salt deadbeef.
 */
export function springRsaAssemble(block: Buffer, secret: Buffer, text: string): string {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', aesKey(secret.toString('hex'), 'deadbeef'), iv);
  const payload = Buffer.concat([iv, cipher.update(text, 'utf8'), cipher.final()]);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(block.length);
  return Buffer.concat([length, block, payload]).toString('base64');
}
