// Symmetric text encryption byte-compatible with Spring Security's Encryptors.text (password and salt).
import { aesDecrypt, aesEncrypt, deriveAesKey } from './aes.ts';
import { decodeHex, decodeUtf8 } from './encoding.ts';
import { CipherError } from './errors.ts';
import type { SymmetricEncryptor } from './types.ts';

/** Spring's default `encrypt.salt`. */
export const DEFAULT_SALT = 'deadbeef';

export interface SymmetricEncryptorOptions {
  /** The shared password (`encrypt.key`). */
  readonly key: string;
  /** Hex-encoded salt (`encrypt.salt`), default `deadbeef`. Unlike the RSA salt it is never re-encoded. */
  readonly salt?: string;
}

/**
 * A text encryptor byte-compatible with Spring Security's `Encryptors.text(password, salt)`.
 * The PBKDF2 key is derived once here, not per call.
 *
 * @example
 * const enc = createSymmetricEncryptor({ key: 'mysecret' });
 * enc.decrypt(enc.encrypt('hello')); // 'hello'
 */
export function createSymmetricEncryptor(options: SymmetricEncryptorOptions): SymmetricEncryptor {
  const { key: password, salt = DEFAULT_SALT } = options;
  if (typeof password !== 'string' || password.length === 0) {
    throw new CipherError('invalid_key', 'Symmetric key must be a non-empty string');
  }
  const saltBytes = decodeHex(salt);
  // Java's PBEKeySpec refuses an empty salt, and Spring's Hex.decode refuses anything but hex.
  if (saltBytes === undefined || saltBytes.length === 0) {
    throw new CipherError('invalid_key', 'Salt must be a non-empty, even-length hex string');
  }
  const aesKey = deriveAesKey(password, saltBytes);

  return Object.freeze({
    kind: 'symmetric' as const,
    canDecrypt: true,
    encrypt(text: string): string {
      return aesEncrypt(aesKey, 'cbc', Buffer.from(text, 'utf8')).toString('hex');
    },
    decrypt(cipherText: string): string {
      const bytes = decodeHex(cipherText);
      if (bytes === undefined) throw new CipherError('invalid_ciphertext');
      const text = decodeUtf8(aesDecrypt(aesKey, 'cbc', bytes));
      if (text === undefined) throw new CipherError('invalid_ciphertext');
      return text;
    },
  });
}
