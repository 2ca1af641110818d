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
    for (const [key, value] of Object.entries(s.source)) {
      if (typeof value !== 'string' || !isCipherValue(value)) {
        source[key] = value;
        continue;
      }
      try {
        if (keys === undefined) throw new Error('no key');
        source[key] = keys.decrypt(value);
      } catch {
        failures.push({ source: s.name, key });
        const origin = origins[key];
        delete origins[key];
        source[`invalid.${key}`] = INVALID_VALUE;
        if (origin !== undefined) origins[`invalid.${key}`] = origin;
      }
    }
    return { name: s.name, source, origins };
  });
  return { environment: { ...env, propertySources }, failures };
}
