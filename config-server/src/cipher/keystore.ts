// Java key stores (JKS, PKCS12) parsed as Spring's KeyStoreKeyFactory reads them (`encrypt.key-store.*`).
// The store password checks the file's integrity, each private-key entry is unlocked with its own key password
// (Spring's `secret`). Parsing only, no file I/O: the loader reads the bytes and decides what a failure means to the
// user.
import { createHash, timingSafeEqual } from 'node:crypto';
import jks from 'jks-js';
import forge from 'node-forge';
import { CipherError } from './errors.ts';

/** What the bytes turned out to be; both are accepted whatever `encrypt.key-store.type` says (see {@link readKeyStore}). */
export type KeyStoreFormat = 'jks' | 'pkcs12';

export interface KeyStoreContents {
  readonly format: KeyStoreFormat;
  /** Aliases of the private-key entries (trusted certificates are left out), lower-cased as Java compares them. */
  readonly keyAliases: readonly string[];
  /**
   * The private key of `alias` (any case) as a PEM, unlocked with `keyPassword`. Undefined when the store has no
   * private key under that alias. Throws `wrong_password` when the password does not unlock it, `invalid_key` when the
   * entry is not an RSA key or cannot be read. The PEM is key material: never log it.
   */
  privateKeyPem(alias: string, keyPassword: string): string | undefined;
}

const JKS_MAGIC = 0xfeedfeed;
const JCEKS_MAGIC = 0xcececece;
const DER_SEQUENCE = 0x30;

/** Java compares key store aliases case-insensitively (both JKS and PKCS12 keep them lower-cased in their maps). */
export function normalizeKeyStoreAlias(alias: string): string {
  return alias.toLowerCase();
}

/**
 * Opens a JKS or PKCS12 key store with its store password. The format is taken from the bytes, not from the type
 * setting: Java (9 and later) loads either format whichever of the two types it is asked for, so Spring does too.
 * Throws `wrong_password` when the store password fails its integrity check, `invalid_key` for anything else
 * (corrupt, JCEKS, not a key store). Messages are fixed texts: no password, no key bytes.
 *
 * @example
 * const store = readKeyStore(await readFile('server.jks'), 'storepass');
 * const pem = store.privateKeyPem('mytestkey', 'keypass');
 */
export function readKeyStore(bytes: Uint8Array, storePassword: string): KeyStoreContents {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = data.length >= 4 ? data.readUInt32BE(0) : 0;
  if (magic === JKS_MAGIC) return readJks(data, storePassword);
  if (magic === JCEKS_MAGIC) {
    throw new CipherError('invalid_key', 'JCEKS key stores are not supported; convert the store to PKCS12');
  }
  if (data[0] === DER_SEQUENCE) return readPkcs12(data, storePassword);
  throw new CipherError('invalid_key', 'Not a JKS or PKCS12 key store');
}

function readJks(data: Buffer, storePassword: string): KeyStoreContents {
  let entries: ReturnType<typeof jks.parseJks>;
  try {
    entries = jks.parseJks(data, storePassword);
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    if (message === 'Password verification failed') throw new CipherError('wrong_password');
    throw new CipherError('invalid_key', 'The JKS key store cannot be read (corrupt or truncated)');
  }
  const protectedKeys = new Map<string, Buffer>();
  for (const entry of entries) {
    // Trusted-certificate entries carry no private key and cannot decrypt anything.
    if ('protectedPrivateKey' in entry) {
      const alias = normalizeKeyStoreAlias(entry.alias);
      if (!protectedKeys.has(alias)) protectedKeys.set(alias, entry.protectedPrivateKey);
    }
  }
  return Object.freeze({
    format: 'jks' as const,
    keyAliases: Object.freeze([...protectedKeys.keys()]),
    privateKeyPem(alias: string, keyPassword: string): string | undefined {
      const protectedKey = protectedKeys.get(normalizeKeyStoreAlias(alias));
      if (protectedKey === undefined) return undefined;
      try {
        return jks.decrypt(protectedKey, keyPassword);
      } catch (err) {
        // Sun's KeyProtector: a wrong password shows as a digest mismatch, "Cannot recover key".
        if (err instanceof Error && err.message === 'Cannot recover key') throw new CipherError('wrong_password');
        throw new CipherError('invalid_key', 'The key entry cannot be read');
      }
    },
  });
}

function readPkcs12(data: Buffer, storePassword: string): KeyStoreContents {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(data.toString('binary')));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, storePassword);
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    // Forge decrypts every key bag with the store password while parsing (keytool always writes them so); a bag with
    // a password of its own fails here too, which we cannot tell from a wrong store password.
    if (/MAC could not be verified|wrong password|Invalid password/i.test(message)) {
      throw new CipherError('wrong_password');
    }
    throw new CipherError('invalid_key', 'The PKCS12 key store cannot be read (corrupt, truncated or unsupported)');
  }
  const keys = new Map<string, forge.pki.PrivateKey | null>();
  for (const contents of p12.safeContents) {
    for (const bag of contents.safeBags) {
      if (bag.type !== forge.pki.oids['pkcs8ShroudedKeyBag'] && bag.type !== forge.pki.oids['keyBag']) continue;
      const attributes = bag.attributes as Readonly<Record<string, unknown>>;
      const name = attributes['friendlyName'];
      const alias = Array.isArray(name) && typeof name[0] === 'string' ? normalizeKeyStoreAlias(name[0]) : undefined;
      // Java names every entry; a nameless bag cannot be selected by alias.
      if (alias === undefined || keys.has(alias)) continue;
      // Forge leaves `key` null for keys it does not know, i.e. anything but RSA.
      keys.set(alias, bag.key ?? null);
    }
  }
  return Object.freeze({
    format: 'pkcs12' as const,
    keyAliases: Object.freeze([...keys.keys()]),
    privateKeyPem(alias: string, keyPassword: string): string | undefined {
      const key = keys.get(normalizeKeyStoreAlias(alias));
      if (key === undefined) return undefined;
      // The key bag was decrypted with the store password, so any other key password is one Java would refuse.
      // `{secret:…}` comes from requests, hence the comparison that takes the same time whatever matches.
      if (!samePassword(keyPassword, storePassword)) throw new CipherError('wrong_password');
      if (key === null) throw new CipherError('invalid_key', 'Key is not an RSA key');
      return forge.pki.privateKeyToPem(key);
    },
  });
}

function samePassword(a: string, b: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
