// The AES layer under both text encryptors, as Spring Security's AesBytesEncryptor does it.
import { createCipheriv, createDecipheriv, createSecretKey, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { CipherError } from './errors.ts';

// Spring Security's AesBytesEncryptor: PBKDF2WithHmacSHA1(password, salt, 1024, 256) then AES-256 with a random
// 16-byte IV written in front. Encryptors.standard uses CBC/PKCS5, Encryptors.stronger GCM with a 128-bit tag.
const ITERATIONS = 1024;
const KEY_BYTES = 32;
const IV_BYTES = 16;
const BLOCK_BYTES = 16;
const GCM_TAG_BYTES = 16;

/** `cbc` = Encryptors.standard / Encryptors.text, `gcm` = Encryptors.stronger (RsaSecretEncryptor with strong=true). */
export type AesMode = 'cbc' | 'gcm';

/** The key as Java derives it: the password's UTF-8 bytes (PBKDF2KeyImpl), the salt already hex-decoded. */
export function deriveAesKey(password: string, salt: Uint8Array): KeyObject {
  const raw = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, ITERATIONS, KEY_BYTES, 'sha1');
  // A KeyObject cannot be logged or serialised by accident; the raw copy is wiped right away.
  const key = createSecretKey(raw);
  raw.fill(0);
  return key;
}

/** IV ‖ ciphertext for CBC, IV ‖ ciphertext ‖ tag for GCM (what Java's GCM doFinal appends). */
export function aesEncrypt(key: KeyObject, mode: AesMode, plaintext: Uint8Array): Buffer {
  const iv = randomBytes(IV_BYTES);
  if (mode === 'gcm') {
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]);
  }
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final()]);
}

/** Smallest well-formed payload: an IV plus one block (CBC) or an IV plus the tag (GCM, empty plaintext). */
export function hasAesShape(mode: AesMode, payload: Uint8Array): boolean {
  if (mode === 'gcm') return payload.length >= IV_BYTES + GCM_TAG_BYTES;
  const body = payload.length - IV_BYTES;
  return body >= BLOCK_BYTES && body % BLOCK_BYTES === 0;
}

/** Throws `invalid_ciphertext` for every failure (shape, padding, tag) without saying which one. */
export function aesDecrypt(key: KeyObject, mode: AesMode, payload: Uint8Array): Buffer {
  if (!hasAesShape(mode, payload)) throw new CipherError('invalid_ciphertext');
  const iv = payload.subarray(0, IV_BYTES);
  try {
    if (mode === 'gcm') {
      const tagStart = payload.length - GCM_TAG_BYTES;
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
      decipher.setAuthTag(payload.subarray(tagStart));
      return Buffer.concat([decipher.update(payload.subarray(IV_BYTES, tagStart)), decipher.final()]);
    }
    const decipher = createDecipheriv('aes-256-cbc', key, iv);
    return Buffer.concat([decipher.update(payload.subarray(IV_BYTES)), decipher.final()]);
  } catch {
    // No cause attached: OpenSSL's reason (bad decrypt / auth failure) is exactly the oracle we must not expose.
    throw new CipherError('invalid_ciphertext');
  }
}
