// The key chain the server starts with, read from the encrypt.* settings; reads files, so it sits outside cipher/.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { StartupError } from '@trellis/kit';
import {
  CipherError,
  createEncryptorFromKey,
  createKeyChain,
  createRsaEncryptor,
  isCipherError,
  normalizeKeyStoreAlias,
  readKeyStore,
  type KeyChain,
  type KeyStoreContents,
  type RsaEncryptorOptions,
  type TextEncryptor,
} from './cipher/index.ts';

export interface KeySettings {
  readonly encryptKey?: string | undefined;
  readonly encryptKeyFile?: string | undefined;
  readonly encryptSalt?: string | undefined;
  readonly rsaAlgorithm?: 'DEFAULT' | 'OAEP' | undefined;
  readonly rsaStrong?: boolean | undefined;
  readonly rsaSalt?: string | undefined;
  /** The key store file (`encrypt.key-store.location` with `file:` removed); it wins over `encryptKey`. */
  readonly keyStorePath?: string | undefined;
  readonly keyStorePassword?: string | undefined;
  readonly keyStoreAlias?: string | undefined;
  /** Password of the key entries; the store password when undefined, as in Spring. */
  readonly keyStoreSecret?: string | undefined;
}

type RsaSettings = Pick<RsaEncryptorOptions, 'algorithm' | 'strong' | 'salt'>;

function rsaSettings(settings: KeySettings): RsaSettings {
  return {
    ...(settings.rsaAlgorithm === undefined ? {} : { algorithm: settings.rsaAlgorithm }),
    ...(settings.rsaStrong === undefined ? {} : { strong: settings.rsaStrong }),
    ...(settings.rsaSalt === undefined ? {} : { salt: settings.rsaSalt }),
  };
}

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unreadable';
}

const STORE_PASSWORD = '--encrypt-key-store-password (ENCRYPT_KEY_STORE_PASSWORD)';
const STORE_SECRET = '--encrypt-key-store-secret (ENCRYPT_KEY_STORE_SECRET, default: the store password)';
const STORE_ALIAS = '--encrypt-key-store-alias (ENCRYPT_KEY_STORE_ALIAS)';

/**
 * Spring's KeyStoreTextEncryptorLocator over a JKS or PKCS12 file: every RSA key entry is a `{key:alias}`, the
 * configured alias (or the only key entry) encrypts new values and decrypts values without `{key:…}`, and
 * `encrypt.rsa.*` apply to every entry. Entries the key secret does not unlock wait for a `{secret:…}` that does.
 * Start-up errors name the setting and the file, never a password.
 */
async function loadKeyStore(settings: KeySettings, path: string): Promise<KeyChain> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new StartupError(
      `cannot read the key store ${path} from --encrypt-key-store-location (ENCRYPT_KEY_STORE_LOCATION) (${errorCode(err)})`,
    );
  }
  const storePassword = settings.keyStorePassword ?? '';
  const secret = settings.keyStoreSecret ?? storePassword;
  let store: KeyStoreContents;
  try {
    store = readKeyStore(bytes, storePassword);
  } catch (err) {
    if (isCipherError(err, 'wrong_password')) {
      throw new StartupError(`${STORE_PASSWORD} does not open the key store ${path} (wrong password or corrupt file)`);
    }
    if (err instanceof CipherError) throw new StartupError(`the key store ${path} is unusable: ${err.message}`);
    throw err;
  }
  if (store.keyAliases.length === 0) throw new StartupError(`the key store ${path} holds no private key entry`);
  const held = [...store.keyAliases].sort().join(', ');
  const alias =
    settings.keyStoreAlias === undefined ? undefined : normalizeKeyStoreAlias(settings.keyStoreAlias.trim());
  let activeAlias: string;
  if (alias !== undefined) activeAlias = alias;
  else if (store.keyAliases.length === 1 && store.keyAliases[0] !== undefined) activeAlias = store.keyAliases[0];
  else throw new StartupError(`the key store ${path} holds several keys (${held}); choose one with ${STORE_ALIAS}`);
  if (!store.keyAliases.includes(activeAlias)) {
    throw new StartupError(`${STORE_ALIAS} ${activeAlias}: ${path} has no key entry by that name (it has ${held})`);
  }

  const rsa = rsaSettings(settings);
  const makeEncryptor = (entry: string, password: string): TextEncryptor | undefined => {
    const pem = store.privateKeyPem(entry, password);
    return pem === undefined ? undefined : createRsaEncryptor({ ...rsa, privateKeyPem: pem });
  };
  const keys: Record<string, TextEncryptor> = {};
  const locked = new Set<string>();
  for (const entry of store.keyAliases) {
    try {
      const encryptor = makeEncryptor(entry, secret);
      if (encryptor !== undefined) keys[entry] = encryptor;
    } catch (err) {
      if (isCipherError(err, 'wrong_password')) {
        locked.add(entry);
        continue;
      }
      if (entry !== activeAlias && isCipherError(err, 'invalid_key')) continue; // an EC key, say: not for {cipher}
      if (err instanceof CipherError) {
        throw new StartupError(`the key ${entry} in the key store ${path} is unusable: ${err.message}`);
      }
      throw err;
    }
  }
  if (locked.has(activeAlias)) {
    throw new StartupError(`${STORE_SECRET} does not unlock the key ${activeAlias} in the key store ${path}`);
  }

  // Entries with passwords of their own, unlocked by the `{secret:…}` of a value. Only a secret that worked is kept,
  // under its digest, so a wrong one is tried afresh every time and never opens a key a right one opened before.
  const unlocked = new Map<string, TextEncryptor>();
  const unlock = (entry: string, entrySecret: string | undefined): TextEncryptor | undefined => {
    if (!locked.has(entry)) return undefined;
    if (entrySecret === undefined) throw new CipherError('wrong_password');
    const cacheKey = `${entry}\0${createHash('sha256').update(entrySecret, 'utf8').digest('base64')}`;
    let encryptor = unlocked.get(cacheKey);
    if (encryptor === undefined) {
      encryptor = makeEncryptor(entry, entrySecret);
      if (encryptor === undefined) return undefined;
      unlocked.set(cacheKey, encryptor);
    }
    return encryptor;
  };
  try {
    return createKeyChain({ keys, activeAlias, normalizeAlias: normalizeKeyStoreAlias, unlock });
  } catch (err) {
    if (err instanceof CipherError) throw new StartupError(`the key store ${path} is unusable: ${err.message}`);
    throw err;
  }
}

/** Refuses a key file others can read: a leaked encrypt key unlocks every `{cipher}` value ever written with it. */
async function readKeyFile(file: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (err) {
    throw new StartupError(`cannot read the encrypt key file ${file} (${errorCode(err)})`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new StartupError(
      `the encrypt key file ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${file}`,
    );
  }
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    throw new StartupError(`cannot read the encrypt key file ${file}`);
  }
}

/**
 * The key chain from a key store (`ENCRYPT_KEY_STORE_*`), or from `ENCRYPT_KEY` or a key file, as Spring's
 * EncryptorFactory reads `encrypt.key`: a PEM makes an RSA key, anything else a symmetric password. Undefined when
 * no key is configured. Errors never carry key text or passwords.
 */
export async function loadKeyChain(settings: KeySettings): Promise<KeyChain | undefined> {
  if (settings.keyStorePath !== undefined) return loadKeyStore(settings, settings.keyStorePath);
  const source = settings.encryptKeyFile === undefined ? 'ENCRYPT_KEY' : settings.encryptKeyFile;
  const key = settings.encryptKeyFile === undefined ? settings.encryptKey : await readKeyFile(settings.encryptKeyFile);
  if (key === undefined || key === '') return undefined;
  const rsa = rsaSettings(settings);
  try {
    const encryptor = createEncryptorFromKey(key, {
      ...(settings.encryptSalt === undefined ? {} : { salt: settings.encryptSalt }),
      rsa,
    });
    return createKeyChain({ default: encryptor });
  } catch (err) {
    if (err instanceof CipherError)
      throw new StartupError(`the encrypt key from ${source} is unusable: ${err.message}`);
    throw err;
  }
}
