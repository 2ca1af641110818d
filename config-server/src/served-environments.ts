// The environments as every route serves them: backend, overrides and decryption, kept per version with their bodies.
import { createHash } from 'node:crypto';
import type { Logger } from '@trellis/kit';
import type { View } from './access/ownership.ts';
import type { EnvironmentBackend } from './backends/types.ts';
import type { KeyChain } from './cipher/index.ts';
import {
  DECRYPTED_HEADER,
  decryptEnvironment,
  decryptedHeader,
  type Environment,
  type EnvironmentRequest,
  type PropertySource,
} from './environment/index.ts';
import type { ConfigServerMetrics } from './metrics.ts';

export interface ServedEnvironmentsOptions {
  readonly backend: EnvironmentBackend;
  /** Undefined when no key is installed: every `{cipher}` value is then served as `invalid.<key>`. */
  readonly keys: KeyChain | undefined;
  /** Server-side forced values (Spring's `spring.cloud.config.server.overrides`), served first as "overrides". */
  readonly overrides?: Readonly<Record<string, string>>;
  readonly logger: Logger;
  /** Counts fetches and decryption failures; undefined with metrics off. */
  readonly metrics?: ConfigServerMetrics | undefined;
}

/**
 * Every method takes the client's {@link View}: only the property sources it admits are served (and decrypted,
 * kept and rendered, separately per view); undefined serves every source.
 */
export interface ServedEnvironments {
  /** The environment as served: overrides first, every `{cipher}` value decrypted (or `invalid.<key>`). */
  find(
    request: EnvironmentRequest,
    view: View | undefined,
    options?: { readonly decrypt?: boolean },
  ): Promise<Environment>;
  /**
   * A response body made from the served (decrypted) environment by `render`, which must depend on nothing but the
   * environment and `variant` (the media type and its options, e.g. `yml:resolved`): the body is kept, encoded as
   * UTF-8, while the backend's version stays the same and rendered again when it changes.
   */
  render(
    request: EnvironmentRequest,
    view: View | undefined,
    variant: string,
    render: (env: Environment) => string,
  ): Promise<Rendered>;
  /**
   * What `render` made for `variant` when it is known, without any I/O, to still be current (the backend
   * vouches for its version synchronously); undefined otherwise, and the caller then goes through `render`.
   */
  peek(request: EnvironmentRequest, view: View | undefined, variant: string): Rendered | undefined;
}

/** A rendered body, and the response headers that describe the environment it was made from. */
export interface Rendered {
  readonly body: Uint8Array<ArrayBuffer>;
  /** {@link DECRYPTED_HEADER} for our config client; Environment JSON routes send these, file renderings need not. */
  readonly headers: Readonly<Record<string, string>>;
}

function digest(sources: readonly PropertySource[]): string {
  return createHash('sha1')
    .update(JSON.stringify(sources.map((s) => [s.name, s.source])))
    .digest('hex');
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
export function createServedEnvironments(options: ServedEnvironmentsOptions): ServedEnvironments {
  const entries = new Map<string, Entry>();
  const { metrics } = options;
  const overrides =
    options.overrides === undefined || Object.keys(options.overrides).length === 0
      ? undefined
      : { name: 'overrides', source: { ...options.overrides } };

  // The view is part of the key: a body kept for an unrestricted client holds documents a limited one may not see.
  const keyOf = (request: EnvironmentRequest, view: View | undefined): string =>
    JSON.stringify([request.applications, request.profiles, request.label ?? null, view?.key ?? '*']);

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
    view: View | undefined,
    decrypt: boolean,
  ): Promise<{ environment: Environment; entry?: Entry }> {
    let found;
    try {
      found = await options.backend.findOne(request);
    } catch (err) {
      metrics?.environmentFetched(err);
      throw err;
    }
    metrics?.environmentFetched();
    const cacheKey = keyOf(request, view);
    const cached = entries.get(cacheKey);
    if (decrypt && cached !== undefined && found.version !== null && cached.version === found.version) {
      return { environment: cached.environment, entry: cached };
    }
    // Before decryption: what a view leaves out is never decrypted for it.
    const sources =
      view === undefined ? found.propertySources : found.propertySources.filter((s) => view.admits(s.document));
    const raw: Environment = {
      name: request.applications.join(','),
      profiles: [...request.profiles],
      label: found.label,
      // The backend's version covers what was left out too (a native digest of every file read): served as is it
      // would tell a client when, and whether, another application's document changed. Kept entries still compare
      // the backend's version.
      version:
        sources.length === found.propertySources.length || found.version === null ? found.version : digest(sources),
      state: found.state,
      propertySources: overrides === undefined ? sources : [overrides, ...sources],
    };
    if (!decrypt) return { environment: raw };
    const { environment, failures } = decryptEnvironment(raw, options.keys);
    metrics?.environmentDecryptFailures(failures.length);
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
    async find(request, view, findOptions = {}) {
      return (await served(request, view, findOptions.decrypt !== false)).environment;
    },
    async render(request, view, variant, render) {
      const { environment, entry } = await served(request, view, true);
      const headers = entry?.headers ?? headersOf(environment);
      const kept = entry?.bodies.get(variant);
      if (kept !== undefined) return { body: kept, headers };
      // Encoded once here rather than on every write (and again to count its length).
      const body = Buffer.from(render(environment), 'utf8');
      entry?.bodies.set(variant, body);
      return { body, headers };
    },
    peek(request, view, variant) {
      const version = options.backend.currentVersion?.(request);
      if (version === undefined || version === null) return undefined;
      const entry = entries.get(keyOf(request, view));
      const body = entry?.version === version ? entry.bodies.get(variant) : undefined;
      if (body === undefined || entry === undefined) return undefined;
      // Served without a backend read: still a fetch the client made.
      metrics?.environmentFetched();
      return { body, headers: entry.headers };
    },
  };
}
