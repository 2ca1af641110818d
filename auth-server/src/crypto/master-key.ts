// The auth server's master key: its file or variable, the keys derived from it, and sealing with them.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StartupError } from '@trellis/kit';

/** What each derived key is for; one purpose, one key, so a leak of one derived key exposes nothing else. */
export type KeyPurpose =
  'signing-key-encryption' | 'client-secret-pepper' | 'cookies' | 'csrf' | 'dev-secrets' | 'admin-token';

/**
 * The auth server's root secret and the keys derived from it (HKDF-SHA256). Signing keys are encrypted with one of
 * them and client secrets are hashed with another, so a copy of `auth.db` alone reveals neither.
 */
export interface MasterKey {
  derive(purpose: KeyPurpose): Buffer;
  /** AES-256-GCM with `aad` bound in (a key id), as `v1.<iv>.<ciphertext>.<tag>` in base64url. */
  seal(plaintext: string, aad: string): string;
  /** Throws when the text was sealed under another master key, or was changed. */
  open(sealed: string, aad: string): string;
}

export const KEY_FILE = 'auth-master.key';

export function createMasterKey(secret: Uint8Array): MasterKey {
  if (secret.length < 16) throw new StartupError('the auth server key encryption key must be at least 16 bytes');
  const cache = new Map<KeyPurpose, Buffer>();
  const derive = (purpose: KeyPurpose): Buffer => {
    let key = cache.get(purpose);
    if (key === undefined) {
      key = Buffer.from(hkdfSync('sha256', secret, 'trellis-auth-server', purpose, 32));
      cache.set(purpose, key);
    }
    return key;
  };
  return {
    derive,
    seal(plaintext, aad) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', derive('signing-key-encryption'), iv);
      cipher.setAAD(Buffer.from(aad));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', iv, ct, cipher.getAuthTag()]
        .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
        .join('.');
    },
    open(sealed, aad) {
      const [version, iv, ct, tag] = sealed.split('.');
      if (version !== 'v1' || iv === undefined || ct === undefined || tag === undefined) {
        throw new Error('unknown sealed format');
      }
      const decipher = createDecipheriv('aes-256-gcm', derive('signing-key-encryption'), Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

export interface MasterKeySource {
  readonly dataDir: string;
  /** From the AUTH_KEY_ENCRYPTION_KEY setting; otherwise a key file under the data dir is used (made on first start). */
  readonly keyEncryptionKey?: string | undefined;
}

/**
 * The master key from the setting, or from `<data-dir>/auth-master.key` (created with mode 600 on first start). A key
 * file others can read is refused: it unlocks the signing keys.
 */
export function loadMasterKey(source: MasterKeySource): MasterKey {
  if (source.keyEncryptionKey !== undefined && source.keyEncryptionKey !== '') {
    return createMasterKey(Buffer.from(source.keyEncryptionKey, 'utf8'));
  }
  mkdirSync(source.dataDir, { recursive: true });
  const file = join(source.dataDir, KEY_FILE);
  let mode: number | undefined;
  try {
    mode = statSync(file).mode;
  } catch {
    // first start: made below
  }
  if (mode === undefined) {
    // 'wx' never overwrites: two processes starting at once keep the first key.
    try {
      writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StartupError(
          `cannot create the auth server key file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
    }
  } else if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new StartupError(
      `the auth server key file ${file} is readable by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 ${file}`,
    );
  }
  const text = readFileSync(file, 'utf8').trim();
  return createMasterKey(Buffer.from(text, 'base64url'));
}
