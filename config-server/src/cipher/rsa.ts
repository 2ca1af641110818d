// RSA text encryption byte-compatible with Spring Security's RsaSecretEncryptor.
import { constants, createHmac, createPublicKey, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { aesDecrypt, aesEncrypt, deriveAesKey, hasAesShape } from './aes.ts';
import type { AesMode } from './aes.ts';
import { decodeBase64, decodeUtf8, isHex } from './encoding.ts';
import { CipherError } from './errors.ts';
import { parseRsaPrivateKey, parseRsaPublicKey, rsaPublicKeyToSsh } from './rsa-keys.ts';
import { selectPkcs1v15Message } from './pkcs1.ts';
import { DEFAULT_SALT } from './symmetric.ts';
import type { RsaAlgorithm, RsaEncryptor } from './types.ts';

// Spring's RsaSecretEncryptor: a fresh 16-byte secret per value, RSA-wrapped; its lowercase hex is the AES password.
const SECRET_BYTES = 16;
const LENGTH_PREFIX_BYTES = 2;
// Room for the padding of both algorithms around a 16-byte secret (OAEP-SHA1 needs 2·20+2, v1.5 needs 11), and the
// u16 length prefix caps the block at 65535 bytes.
const MIN_MODULUS_BITS = 512;
const MAX_MODULUS_BYTES = 0xffff;

interface RsaCommonOptions {
  /** `encrypt.rsa.algorithm`, default `DEFAULT` (PKCS#1 v1.5). */
  readonly algorithm?: RsaAlgorithm;
  /** `encrypt.rsa.strong`: AES/GCM for the payload instead of AES/CBC. Default false. */
  readonly strong?: boolean;
  /** `encrypt.rsa.salt`, default `deadbeef`; a salt that is not hex is used as hex(utf8(salt)), as Spring does. */
  readonly salt?: string;
}

/** Exactly one of the two keys. The public-key form encrypts only (`canDecrypt` is false). */
export type RsaEncryptorOptions = RsaCommonOptions &
  (
    | { readonly privateKeyPem: string; readonly publicKeyPem?: undefined }
    | { readonly publicKeyPem: string; readonly privateKeyPem?: undefined }
  );

/**
 * RsaSecretEncryptor's salt rule: hex as given, anything else replaced by the hex of its UTF-8 bytes. Returns the
 * PBKDF2 salt bytes.
 */
export function rsaSaltBytes(salt: string): Buffer {
  const hex = isHex(salt) ? salt : Buffer.from(salt, 'utf8').toString('hex');
  // Only "" gets here empty; Java's PBEKeySpec would refuse it on first use, we refuse it up front.
  if (hex.length === 0) throw new CipherError('invalid_key', 'RSA salt must not be empty');
  return Buffer.from(hex, 'hex');
}

/**
 * A text encryptor byte-compatible with Spring Security's `RsaSecretEncryptor` (and so with Spring Cloud Config's
 * `encrypt.key` PEM and keystore setups): base64(u16BE(len) ‖ RSA(secret) ‖ AES(password = hex(secret), salt)).
 *
 * @example
 * const rsa = createRsaEncryptor({ privateKeyPem: pem, algorithm: 'OAEP', strong: true });
 * rsa.decrypt(rsa.encrypt('db-password')); // 'db-password'
 */
export function createRsaEncryptor(options: RsaEncryptorOptions): RsaEncryptor {
  const algorithm: RsaAlgorithm = options.algorithm ?? 'DEFAULT';
  if (algorithm !== 'DEFAULT' && algorithm !== 'OAEP') {
    throw new CipherError('invalid_key', 'RSA algorithm must be DEFAULT or OAEP');
  }
  const strong = options.strong ?? false;
  const mode: AesMode = strong ? 'gcm' : 'cbc';
  const salt = rsaSaltBytes(options.salt ?? DEFAULT_SALT);

  let privateKey: KeyObject | undefined;
  let publicKey: KeyObject;
  if (typeof options.privateKeyPem === 'string') {
    privateKey = parseRsaPrivateKey(options.privateKeyPem);
    publicKey = createPublicKey(privateKey);
  } else if (typeof options.publicKeyPem === 'string') {
    publicKey = parseRsaPublicKey(options.publicKeyPem);
  } else {
    throw new CipherError('no_key');
  }

  const modulusBits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  const modulusBytes = Math.ceil(modulusBits / 8);
  if (modulusBits < MIN_MODULUS_BITS || modulusBytes > MAX_MODULUS_BYTES) {
    throw new CipherError('invalid_key', `RSA key size must be between ${MIN_MODULUS_BITS} and 524280 bits`);
  }
  const padding = algorithm === 'OAEP' ? constants.RSA_PKCS1_OAEP_PADDING : constants.RSA_PKCS1_PADDING;
  // Per-encryptor key for implicit rejection: a bad RSA block maps to a stable pseudo-random secret, so repeating a
  // forged ciphertext gives the same answer and nothing distinguishes it from a valid block with a wrong secret.
  const rejectionKey = randomBytes(32);

  /** The 16-byte secret, or a substitute that will fail at AES. Never throws and never branches on the padding. */
  function unwrapSecret(key: KeyObject, block: Buffer): Buffer {
    const fallback = createHmac('sha256', rejectionKey).update(block).digest().subarray(0, SECRET_BYTES);
    if (algorithm === 'OAEP') {
      // OpenSSL's OAEP decoding is constant time and reports one undifferentiated error; whether it failed is
      // then hidden behind the same PBKDF2 + AES work as success.
      try {
        return privateDecrypt({ key, padding, oaepHash: 'sha1' }, block);
      } catch {
        return fallback;
      }
    }
    let em: Buffer;
    try {
      em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block);
    } catch {
      // Only a block >= n gets here, which anyone can see from the public key, so it reveals nothing.
      em = Buffer.alloc(modulusBytes);
    }
    return selectPkcs1v15Message(em, SECRET_BYTES, fallback);
  }

  let ssh: string | undefined;

  return Object.freeze({
    kind: 'rsa' as const,
    algorithm,
    strong,
    modulusBits,
    canDecrypt: privateKey !== undefined,

    sshPublicKey(comment = 'application'): string {
      if (comment === 'application') return (ssh ??= rsaPublicKeyToSsh(publicKey));
      return rsaPublicKeyToSsh(publicKey, comment);
    },

    encrypt(text: string): string {
      const secret = randomBytes(SECRET_BYTES);
      const wrapped = publicEncrypt(
        algorithm === 'OAEP' ? { key: publicKey, padding, oaepHash: 'sha1' } : { key: publicKey, padding },
        secret,
      );
      const aesKey = deriveAesKey(secret.toString('hex'), salt);
      secret.fill(0);
      const payload = aesEncrypt(aesKey, mode, Buffer.from(text, 'utf8'));
      const prefix = Buffer.alloc(LENGTH_PREFIX_BYTES);
      prefix.writeUInt16BE(wrapped.length);
      return Buffer.concat([prefix, wrapped, payload]).toString('base64');
    },

    decrypt(cipherText: string): string {
      // Checked first, like Spring, so a public-key-only server says "not supported" rather than "invalid".
      if (privateKey === undefined) throw new CipherError('decryption_unsupported');
      const bytes = decodeBase64(cipherText);
      if (bytes === undefined || bytes.length < LENGTH_PREFIX_BYTES) throw new CipherError('invalid_ciphertext');
      const blockLength = bytes.readUInt16BE(0);
      const payloadStart = LENGTH_PREFIX_BYTES + blockLength;
      // Shape checks use public lengths only. Java's RSA cipher accepts a block shorter than the modulus (leading
      // zero bytes dropped), so we do too and restore the zeros.
      if (blockLength === 0 || blockLength > modulusBytes || bytes.length < payloadStart) {
        throw new CipherError('invalid_ciphertext');
      }
      const payload = bytes.subarray(payloadStart);
      if (!hasAesShape(mode, payload)) throw new CipherError('invalid_ciphertext');
      const block = Buffer.alloc(modulusBytes);
      bytes.copy(block, modulusBytes - blockLength, LENGTH_PREFIX_BYTES, payloadStart);

      const secret = unwrapSecret(privateKey, block);
      const aesKey = deriveAesKey(secret.toString('hex'), salt);
      secret.fill(0);
      const text = decodeUtf8(aesDecrypt(aesKey, mode, payload));
      if (text === undefined) throw new CipherError('invalid_ciphertext');
      return text;
    },
  });
}
