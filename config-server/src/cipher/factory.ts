// An encryptor from `encrypt.key`, as Spring Cloud's EncryptorFactory makes one: RSA for a key, else symmetric.
import { createRsaEncryptor } from './rsa.ts';
import type { RsaEncryptorOptions } from './rsa.ts';
import { createSymmetricEncryptor } from './symmetric.ts';
import type { TextEncryptor } from './types.ts';

export interface EncryptorFromKeyOptions {
  /** `encrypt.salt`: used by the symmetric encryptor only, as in Spring. */
  readonly salt?: string;
  /**
   * `encrypt.rsa.*` for a PEM key. Spring applies these to keystores only and always uses DEFAULT / deadbeef / CBC for
   * an `encrypt.key` PEM, so leave them unset to stay interchangeable with a Spring server holding the same PEM.
   */
  readonly rsa?: Pick<RsaEncryptorOptions, 'algorithm' | 'strong' | 'salt'>;
}

const PRIVATE_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const PUBLIC_PEM = /-----BEGIN [A-Z ]*PUBLIC KEY-----/;

/**
 * Spring Cloud's `EncryptorFactory.create(encrypt.key)`: key material makes an RSA encryptor, anything else is a
 * symmetric password. Unlike Spring, a PKCS#8 `PRIVATE KEY` is read as a key (Spring would silently use the PEM text
 * as a password) and a public key gives an encrypt-only RSA encryptor (Spring refuses it).
 *
 * @example
 * createEncryptorFromKey('mysecret', { salt: 'deadbeef' }).kind;      // 'symmetric'
 * createEncryptorFromKey('-----BEGIN RSA PRIVATE KEY-----\n…').kind;  // 'rsa'
 */
export function createEncryptorFromKey(key: string, options: EncryptorFromKeyOptions = {}): TextEncryptor {
  const rsa = options.rsa ?? {};
  if (PRIVATE_PEM.test(key)) return createRsaEncryptor({ ...rsa, privateKeyPem: key });
  if (PUBLIC_PEM.test(key) || key.trimStart().startsWith('ssh-rsa ')) {
    return createRsaEncryptor({ ...rsa, publicKeyPem: key });
  }
  return createSymmetricEncryptor(options.salt === undefined ? { key } : { key, salt: options.salt });
}
