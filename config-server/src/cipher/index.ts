// Public API of the config server's cipher model: Spring-compatible `{cipher}` values, no HTTP and no I/O.
export { CIPHER_ERROR_MESSAGES, CipherError, isCipherError } from './errors.ts';
export type { CipherErrorCode } from './errors.ts';
export type { RsaAlgorithm, RsaEncryptor, SymmetricEncryptor, TextEncryptor } from './types.ts';
export { createSymmetricEncryptor, DEFAULT_SALT } from './symmetric.ts';
export type { SymmetricEncryptorOptions } from './symmetric.ts';
export { createRsaEncryptor } from './rsa.ts';
export type { RsaEncryptorOptions } from './rsa.ts';
export { parseRsaPrivateKey, parseRsaPublicKey, rsaPublicKeyToSsh } from './rsa-keys.ts';
export { createEncryptorFromKey } from './factory.ts';
export type { EncryptorFromKeyOptions } from './factory.ts';
export {
  CIPHER_MARKER,
  formatCipherPrefixes,
  isCipherValue,
  parseCipherPrefixes,
  parseCipherValue,
  PLAIN_ESCAPE,
} from './prefixes.ts';
export type { ParsedCipherValue } from './prefixes.ts';
export { createKeyChain } from './key-chain.ts';
export type { KeyChain, KeyChainOptions } from './key-chain.ts';
export { normalizeKeyStoreAlias, readKeyStore } from './keystore.ts';
export type { KeyStoreContents, KeyStoreFormat } from './keystore.ts';
