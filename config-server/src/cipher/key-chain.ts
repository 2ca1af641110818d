import { CipherError } from './errors.ts';
import { parseCipherValue } from './prefixes.ts';
import type { TextEncryptor } from './types.ts';

export interface KeyChainOptions {
  /**
   * Decrypts values without `{key:…}` (Spring's `encrypt.key` or the keystore's default alias). Defaults to the
   * active key when omitted.
   */
  readonly default?: TextEncryptor;
  /** Named keys for `{key:alias}`. Every alias stays able to decrypt after the active one changes. */
  readonly keys?: Readonly<Record<string, TextEncryptor>>;
  /** The alias new values are encrypted with; its ciphertexts carry `{key:alias}` so they survive the next rotation. */
  readonly activeAlias?: string;
}

export interface KeyChain {
  readonly activeAlias: string | undefined;
  readonly aliases: readonly string[];
  /**
   * The encryptor for an alias, or the default one when `keyAlias` is undefined. With no named keys installed the
   * alias is ignored, like Spring's single-key locator. Throws `unknown_key` or `no_key`.
   */
  locate(keyAlias?: string): TextEncryptor;
  /**
   * Encrypts literal text with `keyAlias`, else the active key, else the default key. The result has no `{cipher}`
   * marker but starts with `{key:alias}` whenever a named key was used.
   */
  encrypt(plainText: string, options?: { readonly keyAlias?: string }): string;
  /** Decrypts `{cipher}{key:…}{secret:…}payload`, `{key:…}payload` or a bare payload. Throws `CipherError`. */
  decrypt(value: string): string;
  /**
   * `GET /key`: the ssh-rsa line of the alias, else the active key, else the default; undefined when that key is
   * symmetric or no key is installed. Throws `unknown_key` for an alias that is not installed.
   */
  sshPublicKey(keyAlias?: string): string | undefined;
}

/**
 * The key selection of Spring's TextEncryptorLocator, plus rotation: one active alias for new values, every alias
 * for old ones. `{secret:…}` is accepted and ignored: in Spring it only unlocks a keystore entry and never changes
 * the ciphertext, and our keys arrive unlocked.
 *
 * @example
 * const chain = createKeyChain({ keys: { v1: oldRsa, v2: newRsa }, default: oldRsa, activeAlias: 'v2' });
 * chain.encrypt('s3cret');                 // '{key:v2}AQB…'
 * chain.decrypt('{cipher}{key:v1}AQB…');  // still works
 */
export function createKeyChain(options: KeyChainOptions): KeyChain {
  const keys = new Map<string, TextEncryptor>();
  for (const [alias, encryptor] of Object.entries(options.keys ?? {})) {
    // '}' would end the `{key:…}` pair early, so such an alias could never be selected.
    if (alias.length === 0 || alias.includes('}')) {
      throw new CipherError('invalid_key', 'Key aliases must be non-empty and must not contain "}"');
    }
    keys.set(alias, encryptor);
  }
  const activeAlias = options.activeAlias;
  if (activeAlias !== undefined && !keys.has(activeAlias)) throw new CipherError('unknown_key');
  const defaultEncryptor = options.default ?? (activeAlias === undefined ? undefined : keys.get(activeAlias));
  const aliases = Object.freeze([...keys.keys()]);

  function locate(keyAlias?: string): TextEncryptor {
    if (keyAlias !== undefined && keys.size > 0) {
      const named = keys.get(keyAlias);
      if (named === undefined) throw new CipherError('unknown_key');
      return named;
    }
    if (defaultEncryptor === undefined) throw new CipherError('no_key');
    return defaultEncryptor;
  }

  return Object.freeze({
    activeAlias,
    aliases,
    locate,
    encrypt(plainText: string, encryptOptions?: { readonly keyAlias?: string }): string {
      const alias = keys.size > 0 ? (encryptOptions?.keyAlias ?? activeAlias) : undefined;
      const encrypted = locate(alias).encrypt(plainText);
      return alias === undefined ? encrypted : `{key:${alias}}${encrypted}`;
    },
    decrypt(value: string): string {
      const { keyAlias, payload } = parseCipherValue(value);
      return locate(keyAlias).decrypt(payload);
    },
    sshPublicKey(keyAlias?: string): string | undefined {
      const alias = keyAlias ?? (keys.size > 0 ? activeAlias : undefined);
      // No key at all is "no public key available" for /key, not an error.
      if (alias === undefined && defaultEncryptor === undefined) return undefined;
      const encryptor = locate(alias);
      return encryptor.kind === 'rsa' ? encryptor.sshPublicKey() : undefined;
    },
  });
}
