// `{cipher}` values of a served environment decrypted in place, and the header that names them.
import { isCipherValue } from '../cipher/index.ts';
import type { KeyChain } from '../cipher/index.ts';
import type { Environment, PropertySource, PropertyValue } from './types.ts';

/** What Spring serves for a value that does not decrypt: never the ciphertext, never the reason. */
export const INVALID_VALUE = '<n/a>';

export interface DecryptionFailure {
  readonly source: string;
  readonly key: string;
}

/**
 * Spring's EnvironmentEncryptor: every `{cipher}` value decrypted in place; one that fails (no key, wrong key,
 * garbage) is replaced by `invalid.<key>: <n/a>`. Failures are reported by source and key so they can be logged
 * without values.
 */
export function decryptEnvironment(
  env: Environment,
  keys: KeyChain | undefined,
): { environment: Environment; failures: DecryptionFailure[] } {
  const failures: DecryptionFailure[] = [];
  const propertySources = env.propertySources.map((s): PropertySource => {
    if (!Object.values(s.source).some((v) => typeof v === 'string' && isCipherValue(v))) return s;
    const source: Record<string, PropertyValue> = {};
    const origins: Record<string, string> = { ...s.origins };
    const decrypted: string[] = [];
    for (const [key, value] of Object.entries(s.source)) {
      if (typeof value !== 'string' || !isCipherValue(value)) {
        source[key] = value;
        continue;
      }
      try {
        if (keys === undefined) throw new Error('no key');
        source[key] = keys.decrypt(value);
        decrypted.push(key);
      } catch {
        failures.push({ source: s.name, key });
        const origin = origins[key];
        delete origins[key];
        source[`invalid.${key}`] = INVALID_VALUE;
        if (origin !== undefined) origins[`invalid.${key}`] = origin;
      }
    }
    return decrypted.length === 0 ? { name: s.name, source, origins } : { name: s.name, source, origins, decrypted };
  });
  return { environment: { ...env, propertySources }, failures };
}

/**
 * A response header (beyond Spring's wire: Spring clients ignore it) that tells our config client which served values
 * were `{cipher}` values, so it can treat exactly those as secrets whatever their names. Spring's Environment JSON
 * has no room for this, and a field in it could trip a strict JSON reader; a header trips nothing.
 */
export const DECRYPTED_HEADER = 'x-trellis-decrypted';

// Well under the 16 KiB that Node and undici allow for all headers together.
const MAX_DECRYPTED_HEADER = 8 * 1024;

/**
 * The {@link DECRYPTED_HEADER} value: `index=key` pairs joined by commas, where index is the property source's position
 * in `propertySources` and the key is percent-encoded (so `,` and `=` in keys stay unambiguous). Empty when nothing
 * was decrypted (which still tells the client the server reports decryption); undefined when the list would be too
 * long for a header, so the client falls back to its key-name rule.
 *
 * @example
 * decryptedHeader(env); // '0=spring.datasource.password,2=greeting'
 */
export function decryptedHeader(env: Environment): string | undefined {
  const pairs: string[] = [];
  env.propertySources.forEach((s, i) => {
    for (const key of s.decrypted ?? []) pairs.push(`${i}=${encodeURIComponent(key)}`);
  });
  const value = pairs.join(',');
  return value.length > MAX_DECRYPTED_HEADER ? undefined : value;
}
