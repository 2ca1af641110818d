import { readFile, stat } from 'node:fs/promises';
import { StartupError } from '@trellis/clients';
import { CipherError, createEncryptorFromKey, createKeyChain, type KeyChain } from '../cipher/index.ts';

export interface KeySettings {
  readonly encryptKey?: string | undefined;
  readonly encryptKeyFile?: string | undefined;
  readonly encryptSalt?: string | undefined;
  readonly rsaAlgorithm?: 'DEFAULT' | 'OAEP' | undefined;
  readonly rsaStrong?: boolean | undefined;
  readonly rsaSalt?: string | undefined;
}

/** Refuses a key file others can read: a leaked encrypt key unlocks every `{cipher}` value ever written with it. */
async function readKeyFile(file: string): Promise<string> {
  let mode: number;
  try {
    mode = (await stat(file)).mode;
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'unreadable';
    throw new StartupError(`cannot read the encrypt key file ${file} (${code})`);
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
 * The key chain from `ENCRYPT_KEY` or a key file, as Spring's EncryptorFactory reads `encrypt.key`: a PEM makes an
 * RSA key, anything else a symmetric password. Undefined when no key is configured. Errors never carry key text.
 */
export async function loadKeyChain(settings: KeySettings): Promise<KeyChain | undefined> {
  const source = settings.encryptKeyFile === undefined ? 'ENCRYPT_KEY' : settings.encryptKeyFile;
  const key = settings.encryptKeyFile === undefined ? settings.encryptKey : await readKeyFile(settings.encryptKeyFile);
  if (key === undefined || key === '') return undefined;
  const rsa = {
    ...(settings.rsaAlgorithm === undefined ? {} : { algorithm: settings.rsaAlgorithm }),
    ...(settings.rsaStrong === undefined ? {} : { strong: settings.rsaStrong }),
    ...(settings.rsaSalt === undefined ? {} : { salt: settings.rsaSalt }),
  };
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
