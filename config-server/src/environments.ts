import type { Logger } from '@trellis/clients';
import type { EnvironmentBackend } from './backends/types.ts';
import type { KeyChain } from './cipher/index.ts';
import {
  DECRYPTED_HEADER,
  decryptEnvironment,
  decryptedHeader,
  type Environment,
  type EnvironmentRequest,
} from './environment/index.ts';

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
  /**
   * A response body made from the served (decrypted) environment by `render`, which must depend on nothing but the
   * environment and `variant` (the media type and its options, e.g. `yml:resolved`): the body is kept, encoded as
   * UTF-8, while the backend's version stays the same and rendered again when it changes.
   */
  render(request: EnvironmentRequest, variant: string, render: (env: Environment) => string): Promise<Rendered>;
  /**
   * What `render` made for `variant` when it is known, without any I/O, to still be current (the backend
   * vouches for its version synchronously); undefined otherwise, and the caller then goes through `render`.
   */
  peek(request: EnvironmentRequest, variant: string): Rendered | undefined;
}

/** A rendered body, and the response headers that describe the environment it was made from. */
export interface Rendered {
  readonly body: Uint8Array<ArrayBuffer>;
  /** {@link DECRYPTED_HEADER} for our config client; Environment JSON routes send these, file renderings need not. */
  readonly headers: Readonly<Record<string, string>>;
}

// Enough for every (application, profiles, label) a landscape asks for; older entries are dropped first.
const MAX_CACHED = 256;

interface Entry {
  readonly version: string;
  readonly environment: Environment;
  /** Rendered bodies by variant; they hold decrypted values, so they live exactly as long as the entry. */
  readonly bodies: Map<string, Uint8Array<ArrayBuffer>>;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Backend + overrides + decryption: what every environment route serves. A decrypted environment, and each body
 * rendered from it, is kept per request while the backend's version stays the same (a version names the whole
 * content: a git commit, a native digest), so decryption and rendering run once per change instead of on every
 * request. Unversioned results are never kept. Access checks stay with the routes, before any of this.
 */
export function createEnvironments(options: EnvironmentsOptions): Environments {
  const entries = new Map<string, Entry>();
  const overrides =
    options.overrides === undefined || Object.keys(options.overrides).length === 0
      ? undefined
      : { name: 'overrides', source: { ...options.overrides } };

  const keyOf = (request: EnvironmentRequest): string =>
    JSON.stringify([request.applications, request.profiles, request.label ?? null]);

  /** Once per decrypted environment: which keys were `{cipher}` values, for clients that want to know. */
  function headersOf(environment: Environment): Readonly<Record<string, string>> {
    const decrypted = decryptedHeader(environment);
    if (decrypted !== undefined) return { [DECRYPTED_HEADER]: decrypted };
    options.logger.warn(
      { application: environment.name, profiles: environment.profiles },
      `too many decrypted keys to list in ${DECRYPTED_HEADER}; clients fall back to their key-name rule`,
    );
    return {};
  }

  async function served(
    request: EnvironmentRequest,
    decrypt: boolean,
  ): Promise<{ environment: Environment; entry?: Entry }> {
    const found = await options.backend.findOne(request);
    const cacheKey = keyOf(request);
    const cached = entries.get(cacheKey);
    if (decrypt && cached !== undefined && found.version !== null && cached.version === found.version) {
      return { environment: cached.environment, entry: cached };
    }
    const raw: Environment = {
      name: request.applications.join(','),
      profiles: [...request.profiles],
      label: found.label,
      version: found.version,
      state: found.state,
      propertySources: overrides === undefined ? found.propertySources : [overrides, ...found.propertySources],
    };
    if (!decrypt) return { environment: raw };
    const { environment, failures } = decryptEnvironment(raw, options.keys);
    for (const f of failures) {
      // Names only: the value (ciphertext or not) and the key stay out of the log.
      options.logger.warn({ source: f.source, property: f.key }, 'cannot decrypt property; served as invalid.<key>');
    }
    if (found.version === null) return { environment };
    const entry: Entry = { version: found.version, environment, bodies: new Map(), headers: headersOf(environment) };
    entries.delete(cacheKey);
    entries.set(cacheKey, entry);
    if (entries.size > MAX_CACHED) entries.delete(entries.keys().next().value ?? '');
    return { environment, entry };
  }

  return {
    async find(request, findOptions = {}) {
      return (await served(request, findOptions.decrypt !== false)).environment;
    },
    async render(request, variant, render) {
      const { environment, entry } = await served(request, true);
      const headers = entry?.headers ?? headersOf(environment);
      const kept = entry?.bodies.get(variant);
      if (kept !== undefined) return { body: kept, headers };
      // Encoded once here rather than on every write (and again to count its length).
      const body = Buffer.from(render(environment), 'utf8');
      entry?.bodies.set(variant, body);
      return { body, headers };
    },
    peek(request, variant) {
      const version = options.backend.currentVersion?.(request);
      if (version === undefined || version === null) return undefined;
      const entry = entries.get(keyOf(request));
      const body = entry?.version === version ? entry.bodies.get(variant) : undefined;
      return body === undefined || entry === undefined ? undefined : { body, headers: entry.headers };
    },
  };
}
