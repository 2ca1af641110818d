import type { Logger } from '@trellis/clients';
import type { EnvironmentBackend } from './backends/types.ts';
import type { KeyChain } from './cipher/index.ts';
import { decryptEnvironment, type Environment, type EnvironmentRequest } from './environment/index.ts';

export interface EnvironmentsOptions {
  readonly backend: EnvironmentBackend;
  /** Undefined when no key is installed: every `{cipher}` value is then served as `invalid.<key>`. */
  readonly keys: KeyChain | undefined;
  /** Server-side forced values (Spring's `spring.cloud.config.server.overrides`), served first as "overrides". */
  readonly overrides?: Readonly<Record<string, string>>;
  readonly logger: Logger;
}

export interface Environments {
  /** The environment as served: overrides first, every `{cipher}` value decrypted (or `invalid.<key>`). */
  find(request: EnvironmentRequest, options?: { readonly decrypt?: boolean }): Promise<Environment>;
}

// Enough for every (application, profiles, label) a landscape asks for; older entries are dropped first.
const MAX_CACHED = 256;

/**
 * Backend + overrides + decryption: what every environment route serves. A decrypted environment is kept per
 * request while the backend's version stays the same (a version names the whole content: a git commit, a native
 * digest), so decryption runs once per change instead of on every request. Unversioned results are never kept.
 */
export function createEnvironments(options: EnvironmentsOptions): Environments {
  const decrypted = new Map<string, { readonly version: string; readonly environment: Environment }>();
  const overrides =
    options.overrides === undefined || Object.keys(options.overrides).length === 0
      ? undefined
      : { name: 'overrides', source: { ...options.overrides } };
  return {
    async find(request, findOptions = {}) {
      const found = await options.backend.findOne(request);
      const raw: Environment = {
        name: request.applications.join(','),
        profiles: [...request.profiles],
        label: found.label,
        version: found.version,
        state: found.state,
        propertySources: overrides === undefined ? found.propertySources : [overrides, ...found.propertySources],
      };
      if (findOptions.decrypt === false) return raw;
      const cacheKey = JSON.stringify([request.applications, request.profiles, request.label ?? null]);
      const cached = decrypted.get(cacheKey);
      if (cached !== undefined && found.version !== null && cached.version === found.version) return cached.environment;
      const { environment, failures } = decryptEnvironment(raw, options.keys);
      if (found.version !== null) {
        decrypted.delete(cacheKey);
        decrypted.set(cacheKey, { version: found.version, environment });
        if (decrypted.size > MAX_CACHED) decrypted.delete(decrypted.keys().next().value ?? '');
      }
      for (const f of failures) {
        // Names only: the value (ciphertext or not) and the key stay out of the log.
        options.logger.warn({ source: f.source, property: f.key }, 'cannot decrypt property; served as invalid.<key>');
      }
      return environment;
    },
  };
}
