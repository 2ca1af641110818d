// Several keys behind one encryptor: `{key:alias}` selection and key rotation, as Spring's TextEncryptorLocator.
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
  /**
   * Maps an alias to the form `keys` is indexed by before every lookup. Java key stores compare aliases
   * case-insensitively, so a key store passes a lower-casing function. Default: aliases are taken as written.
   */
  readonly normalizeAlias?: (alias: string) => string;
  /**
   * Asked for a named key that `keys` does not hold, with the value's `{secret:…}` (undefined when it has none): a key
   * store entry whose key password differs from the default one, as Spring's KeyStoreTextEncryptorLocator unlocks
   * them. Returns undefined for an alias it does not know either; throws `wrong_password` when the secret does not
   * unlock the entry.
   */
  readonly unlock?: (alias: string, secret: string | undefined) => TextEncryptor | undefined;
}

export interface KeyChain {
  readonly activeAlias: string | undefined;
  readonly aliases: readonly string[];
  /**
   * The encryptor for an alias, or the default one when `keyAlias` is undefined. With no named keys installed the
   * alias is ignored, like Spring's single-key locator. `secret` (a `{secret:…}` prefix) only matters for a key that
   * is not unlocked yet (see {@link KeyChainOptions.unlock}). Throws `unknown_key`, `no_key` or `wrong_password`.
   */
  locate(keyAlias?: string, secret?: string): TextEncryptor;
  /**
   * Encrypts literal text with `keyAlias`, else the active key, else the default key. The result has no `{cipher}`
   * marker but starts with `{key:alias}` whenever a named key was used.
   */
  encrypt(plainText: string, options?: { readonly keyAlias?: string; readonly secret?: string }): string;
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
 * for old ones. `{secret:…}` never changes the ciphertext; in Spring it unlocks a key store entry, so here it is
 * handed to `unlock` for a key that is not unlocked yet and ignored for one that is.
 *
 * @example
 * const chain = createKeyChain({ keys: { v1: oldRsa, v2: newRsa }, default: oldRsa, activeAlias: 'v2' });
 * chain.encrypt('s3cret');                 // '{key:v2}AQB…'
 * chain.decrypt('{cipher}{key:v1}AQB…');  // still works
 */
export function createKeyChain(options: KeyChainOptions): KeyChain {
  const normalize = options.normalizeAlias ?? ((alias: string) => alias);
  const unlock = options.unlock;
  const keys = new Map<string, TextEncryptor>();
  for (const [alias, encryptor] of Object.entries(options.keys ?? {})) {
    // '}' would end the `{key:…}` pair early, so such an alias could never be selected.
    if (alias.length === 0 || alias.includes('}')) {
      throw new CipherError('invalid_key', 'Key aliases must be non-empty and must not contain "}"');
    }
    keys.set(normalize(alias), encryptor);
  }
  const activeAlias = options.activeAlias;
  if (activeAlias !== undefined && !keys.has(normalize(activeAlias))) throw new CipherError('unknown_key');
  const defaultEncryptor =
    options.default ?? (activeAlias === undefined ? undefined : keys.get(normalize(activeAlias)));
  const aliases = Object.freeze([...keys.keys()]);
  const named = keys.size > 0 || unlock !== undefined;

  function locate(keyAlias?: string, secret?: string): TextEncryptor {
    if (keyAlias !== undefined && named) {
      const found = keys.get(normalize(keyAlias)) ?? unlock?.(normalize(keyAlias), secret);
      if (found === undefined) throw new CipherError('unknown_key');
      return found;
    }
    if (defaultEncryptor === undefined) throw new CipherError('no_key');
    return defaultEncryptor;
  }

  return Object.freeze({
    activeAlias,
    aliases,
    locate,
    encrypt(plainText: string, encryptOptions?: { readonly keyAlias?: string; readonly secret?: string }): string {
      const alias = named ? (encryptOptions?.keyAlias ?? activeAlias) : undefined;
      const encrypted = locate(alias, encryptOptions?.secret).encrypt(plainText);
      return alias === undefined ? encrypted : `{key:${alias}}${encrypted}`;
    },
    decrypt(value: string): string {
      const { keyAlias, secret, payload } = parseCipherValue(value);
      return locate(keyAlias, secret).decrypt(payload);
    },
    sshPublicKey(keyAlias?: string): string | undefined {
      const alias = keyAlias ?? (named ? activeAlias : undefined);
      // No key at all is "no public key available" for /key, not an error.
      if (alias === undefined && defaultEncryptor === undefined) return undefined;
      const encryptor = locate(alias);
      return encryptor.kind === 'rsa' ? encryptor.sshPublicKey() : undefined;
    },
  });
}
