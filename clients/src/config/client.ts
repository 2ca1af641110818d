// The config client: Spring's start-up fetch with fail-fast retry, typed reads, and refresh over the watch stream.
import { readFileSync } from 'node:fs';
import { backoffDelay, describeError, SseParser, systemClock, type Clock, type SseEvent } from '../http/index.ts';
import type { Logger, Observability } from '@trellis/kit';
import { ConfigClientError } from './errors.ts';
import { ConfigHttp, environmentPath, type ConfigCredentials } from './http.ts';
import { ConfigProperties, type ConfigDiff, type ConfigTree, type ConfigValue } from './properties.ts';
import type { Secret } from './secret.ts';

/** Spring Cloud Config client's retry settings (`spring.cloud.config.retry.*`), with its defaults. */
export interface ConfigRetryOptions {
  /** Default 1000 ms. */
  readonly initialIntervalMs?: number;
  /** Default 1.1. */
  readonly multiplier?: number;
  /** Default 2000 ms. */
  readonly maxIntervalMs?: number;
  /** Attempts in all, the first included. Default 6. */
  readonly maxAttempts?: number;
}

/**
 * The retry of a Trellis component that may start beside its config server (`trellis up`, containers starting
 * together): attempts over about ten seconds rather than Spring's six over about seven.
 */
export const STARTUP_RETRY: ConfigRetryOptions = { maxAttempts: 10, initialIntervalMs: 500, maxIntervalMs: 2000 };

export interface FetchRemoteConfigOptions {
  /** Config server URL(s), Spring's `spring.cloud.config.uri`; user info becomes Basic credentials. Default `https://localhost:8888`. */
  readonly uri?: string | readonly string[];
  /** The application name (`spring.application.name`). */
  readonly name: string;
  /** Active profiles, later ones winning. Default `default`. */
  readonly profiles?: string | readonly string[];
  /** Branch, tag, commit or directory; a `/` is sent as `(_)`. The server's default when omitted. */
  readonly label?: string;
  readonly credentials?: ConfigCredentials;
  /** PEM text of the CA(s) that signed the server's certificate, trusted instead of the system roots. */
  readonly ca?: string | readonly string[];
  /** A PEM file to read `ca` from, e.g. `./data/tls/ca.pem` for the local development CA. */
  readonly caFile?: string;
  /** Retry with backoff, then fail, when the server cannot be reached at start. Default true. */
  readonly failFast?: boolean;
  readonly retry?: ConfigRetryOptions;
  /** Per request (connect and headers). Default 10 s. */
  readonly timeoutMs?: number;
  /** Keys treated as secrets besides the built-in rule (see `isSecretProperty`): exact keys or patterns. */
  readonly secretKeys?: readonly (string | RegExp)[];
  readonly logger: Logger;
  /** Timers for the backoff; tests pass a fake one. */
  readonly clock?: Clock;
  /**
   * Times (http_client_requests_seconds) and traces each Environment fetch. Default: the observability of the scope
   * the client is made in; a fetch before the service exists has none.
   */
  readonly observability?: Observability;
}

export interface ConfigClientOptions extends FetchRemoteConfigOptions {
  /** Follow the server's watch stream and refresh on changes. Default true. */
  readonly watch?: boolean;
  /** A watch stream silent this long is taken for dead and reopened. Default 60 s (the server pings every 25 s). */
  readonly watchIdleTimeoutMs?: number;
}

/** What subscribers hear after a refresh that changed something. */
export interface ConfigChange extends ConfigDiff {
  /** Every key in `added`, `removed` and `changed`, sorted. */
  readonly keys: readonly string[];
  readonly previous: ConfigProperties;
  readonly current: ConfigProperties;
}

export type ConfigListener = (change: ConfigChange) => void;

/** The state the `config` health component reports. */
export interface ConfigClientStatus {
  readonly server: string;
  /** False only for a client started with `failFast: false` that has not loaded anything yet. */
  readonly loaded: boolean;
  readonly version: string | null;
  readonly propertySources: readonly string[];
  readonly lastFetch: number | undefined;
  /** The last refresh's failure; cleared by the next success. */
  readonly lastError: string | undefined;
  readonly lastErrorAt: number | undefined;
  /** `polling`: the server refused a stream (busy); the client polls at its Retry-After and asks again. */
  readonly watch: 'off' | 'connecting' | 'connected' | 'polling' | 'unsupported';
  readonly undecryptable: readonly string[];
}

/** Typed access to the current configuration; the client forwards these to its latest {@link ConfigProperties}. */
export interface ConfigReader {
  has(key: string): boolean;
  keys(): string[];
  get(key: string): ConfigValue | undefined;
  getString(key: string, defaultValue?: string): string;
  getNumber(key: string, defaultValue?: number): number;
  getBoolean(key: string, defaultValue?: boolean): boolean;
  getList(key: string, defaultValue?: readonly string[]): string[];
  getSecret(key: string, defaultValue?: string): Secret;
  getObject(prefix: string): ConfigTree;
}

export interface ConfigClient extends ConfigReader {
  /** The configuration now in use (replaced on each successful refresh; never mutated). */
  readonly current: ConfigProperties;
  /** Calls `listener` after each refresh that changed keys; returns an unsubscribe. */
  subscribe(listener: ConfigListener): () => void;
  /** Fetches again now (one attempt over the URIs). The change, or undefined when nothing changed; throws on failure. */
  refresh(): Promise<ConfigChange | undefined>;
  status(): ConfigClientStatus;
  /** The masked configuration and status (what `JSON.stringify` and loggers see). */
  toJSON(): Record<string, unknown>;
  /** Stops the watch stream and closes connections. Safe to call twice. */
  close(): Promise<void>;
}

interface Settings {
  readonly http: ConfigHttp;
  readonly path: string;
  readonly name: string;
  readonly profiles: readonly string[];
  readonly label: string | undefined;
  readonly failFast: boolean;
  readonly retry: Required<ConfigRetryOptions>;
  readonly secretKeys: readonly (string | RegExp)[];
  readonly log: Logger;
  readonly clock: Clock;
}

const NAME = /^[^/#]+$/;

function positive(value: number | undefined, fallback: number, what: string, min = 0): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < min)
    throw new ConfigClientError('invalid_options', `${what} must be a number ≥ ${min}`);
  return v;
}

/** Validates and copies the options (the caller's object is never kept or changed). */
function settingsOf(options: FetchRemoteConfigOptions): Settings {
  if (typeof options.name !== 'string' || !NAME.test(options.name)) {
    throw new ConfigClientError('invalid_options', 'name must be the application name (no / or #)');
  }
  const profiles = (
    typeof options.profiles === 'string' ? options.profiles.split(',') : (options.profiles ?? ['default'])
  )
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (profiles.length === 0) profiles.push('default');
  let ca = options.ca;
  if (options.caFile !== undefined) {
    try {
      ca = readFileSync(options.caFile, 'utf8');
    } catch (err) {
      throw new ConfigClientError('invalid_options', `cannot read caFile ${options.caFile}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }
  const timeoutMs = positive(options.timeoutMs, 10_000, 'timeoutMs', 1);
  const r = options.retry ?? {};
  const retry: Required<ConfigRetryOptions> = {
    initialIntervalMs: positive(r.initialIntervalMs, 1000, 'retry.initialIntervalMs'),
    multiplier: positive(r.multiplier, 1.1, 'retry.multiplier', 1),
    maxIntervalMs: positive(r.maxIntervalMs, 2000, 'retry.maxIntervalMs'),
    maxAttempts: Math.floor(positive(r.maxAttempts, 6, 'retry.maxAttempts', 1)),
  };
  return {
    http: new ConfigHttp({
      uri: options.uri ?? 'https://localhost:8888',
      credentials: options.credentials,
      ca,
      timeoutMs,
      observability: options.observability,
    }),
    path: environmentPath(options.name, profiles, options.label),
    name: options.name,
    profiles,
    label: options.label,
    failFast: options.failFast ?? true,
    retry,
    // Copies without g/y flags: a stateful RegExp would answer differently on every other call.
    secretKeys: (options.secretKeys ?? []).map((k) =>
      typeof k === 'string' ? k : new RegExp(k.source, k.flags.replace(/[gy]/g, '')),
    ),
    log: options.logger,
    clock: options.clock ?? systemClock,
  };
}

function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clock.clearTimeout(handle);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const handle = clock.setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function fetchOnce(s: Settings, signal?: AbortSignal): Promise<ConfigProperties> {
  const env = await s.http.environment(s.path, signal);
  return new ConfigProperties(env, s.secretKeys);
}

/** Bounds on how long a refused watch waits (the server's Retry-After) before polling and trying again. */
const MIN_BUSY_WAIT_MS = 1000;
const MAX_BUSY_WAIT_MS = 300_000;

/** Spring's start-up fetch: up to `maxAttempts` with backoff when fail-fast, a single attempt otherwise. */
async function fetchWithRetry(s: Settings, signal?: AbortSignal): Promise<ConfigProperties> {
  const attempts = s.failFast ? s.retry.maxAttempts : 1;
  const what = `${s.name}/${s.profiles.join(',')}${s.label === undefined ? '' : `/${s.label}`}`;
  for (let attempt = 1; ; attempt++) {
    try {
      const properties = await fetchOnce(s, signal);
      s.log.info(
        {
          server: s.http.current,
          application: what,
          version: properties.version,
          propertySources: properties.propertySources,
          properties: properties.keys().length,
        },
        'loaded configuration',
      );
      warnUndecryptable(s, properties);
      return properties;
    } catch (err) {
      if (!(err instanceof ConfigClientError)) throw err;
      if (!err.retryable || attempt >= attempts) {
        throw new ConfigClientError(
          err.code,
          `could not load configuration ${what}${attempts > 1 && err.retryable ? ` after ${attempt} attempts` : ''}: ${err.message}`,
          { ...(err.url === undefined ? {} : { url: err.url }), cause: err },
        );
      }
      const delay = backoffDelay(attempt, {
        initialDelayMs: s.retry.initialIntervalMs,
        maxDelayMs: s.retry.maxIntervalMs,
        multiplier: s.retry.multiplier,
      });
      s.log.warn(
        { attempt, maxAttempts: attempts, retryInMs: Math.round(delay), reason: err.message },
        'config server not available yet; retrying',
      );
      await sleep(s.clock, delay, signal);
      if (signal?.aborted === true) throw err;
    }
  }
}

function warnUndecryptable(s: Settings, properties: ConfigProperties): void {
  if (properties.undecryptable.length === 0) return;
  s.log.warn(
    { keys: properties.undecryptable },
    'config server could not decrypt these {cipher} values (served as invalid.<key>); check its encrypt key',
  );
}

/**
 * Fetches `{name}/{profiles}[/{label}]` once (with Spring's fail-fast retry) and returns the merged, typed view.
 * For a long-running service prefer {@link createConfigClient}, which also follows changes.
 *
 * @example
 * const config = await fetchRemoteConfig({ uri: 'https://localhost:8888', name: 'product', profiles: 'docker',
 *   caFile: './data/tls/ca.pem', logger });
 * const port = config.getNumber('server.port', 7001);
 */
export async function fetchRemoteConfig(options: FetchRemoteConfigOptions): Promise<ConfigProperties> {
  const s = settingsOf(options);
  try {
    return await fetchWithRetry(s);
  } finally {
    await s.http.close();
  }
}

/**
 * Loads the configuration at start (call it before the service binds its port), then follows the server's watch
 * stream: each change is fetched again, merged, diffed against the previous configuration, and subscribers hear which
 * keys were added, removed or changed. A failed refresh keeps the last good values (the health component says so).
 *
 * @example
 * const config = await createConfigClient({ uri: 'https://localhost:8888', name: 'product', profiles: ['docker'],
 *   caFile: './data/tls/ca.pem', credentials: { username: 'product', password: secretFromEnv }, logger });
 * service.health.register('config', configHealthIndicator(config));
 * service.onShutdown('config client', () => config.close());
 * config.subscribe((change) => log.info({ keys: change.keys }, 'configuration changed'));
 * await service.listen({ port: config.getNumber('server.port', 7001) });
 */
export async function createConfigClient(options: ConfigClientOptions): Promise<ConfigClient> {
  const s = settingsOf(options);
  const idleMs = positive(options.watchIdleTimeoutMs, 60_000, 'watchIdleTimeoutMs', 1);
  const abort = new AbortController();
  const listeners = new Set<ConfigListener>();
  let current: ConfigProperties;
  let loaded = false;
  let lastFetch: number | undefined;
  let lastError: string | undefined;
  let lastErrorAt: number | undefined;
  let watchState: ConfigClientStatus['watch'] = options.watch === false ? 'off' : 'connecting';
  let chain: Promise<unknown> = Promise.resolve();
  let loop: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  try {
    current = await fetchWithRetry(s, abort.signal);
    loaded = true;
    lastFetch = s.clock.now();
  } catch (err) {
    if (s.failFast || !(err instanceof ConfigClientError)) {
      await s.http.close();
      throw err;
    }
    // Spring's behaviour without fail-fast: start on local defaults, and pick the configuration up once it answers.
    s.log.warn({ reason: err.message }, 'starting without remote configuration (failFast is off)');
    current = ConfigProperties.empty(s.name, s.profiles, s.label);
    lastError = err.message;
    lastErrorAt = s.clock.now();
  }

  function emit(change: ConfigChange): void {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (err) {
        // One faulty subscriber must not stop the others from hearing the change.
        s.log.error({ err }, 'configuration change listener failed');
      }
    }
  }

  /** One refresh at a time, each against the configuration the previous one left. */
  function refresh(): Promise<ConfigChange | undefined> {
    const run = chain.then(async (): Promise<ConfigChange | undefined> => {
      let next: ConfigProperties;
      try {
        next = await fetchOnce(s, abort.signal);
      } catch (err) {
        lastError = err instanceof Error ? err.message : describeError(err);
        lastErrorAt = s.clock.now();
        if (!abort.signal.aborted)
          s.log.warn({ reason: lastError }, 'configuration refresh failed; keeping the last good values');
        throw err;
      }
      const previous = current;
      current = next;
      const firstLoad = !loaded;
      loaded = true;
      lastFetch = s.clock.now();
      lastError = undefined;
      lastErrorAt = undefined;
      if (firstLoad) s.log.info({ server: s.http.current, version: next.version }, 'loaded configuration');
      const diff = next.diff(previous);
      if (diff.added.length + diff.removed.length + diff.changed.length === 0) return undefined;
      warnUndecryptable(s, next);
      const change: ConfigChange = {
        ...diff,
        keys: [...diff.added, ...diff.removed, ...diff.changed].sort(),
        previous,
        current: next,
      };
      // Key names only: values may be secrets.
      s.log.info({ version: next.version, ...diff }, 'configuration changed');
      emit(change);
      return change;
    });
    chain = run.catch(() => undefined);
    return run;
  }

  async function onEvent(event: SseEvent): Promise<void> {
    if (event.event !== 'ready' && event.event !== 'change') return;
    let data: { version?: unknown };
    try {
      data = JSON.parse(event.data) as { version?: unknown };
    } catch {
      throw new ConfigClientError('invalid_response', `watch stream sent a ${event.event} event that is not JSON`);
    }
    const serverVersion = typeof data.version === 'string' ? data.version : null;
    if (event.event === 'ready') {
      watchState = 'connected';
      // Changes made while the stream was down: the version tells, when the backend has one.
      if (loaded && serverVersion !== null && serverVersion === current.version) return;
    }
    // A failed refresh ends the stream: reopening it brings a `ready` whose version triggers the refetch.
    await refresh();
  }

  async function readStream(body: AsyncIterable<Uint8Array> & { destroy(): void; destroyed: boolean }): Promise<void> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        for (const event of parser.push(decoder.decode(chunk, { stream: true }))) await onEvent(event);
      }
    } finally {
      if (!body.destroyed) body.destroy();
    }
  }

  async function watchLoop(): Promise<void> {
    let failures = 0;
    let refusals = 0;
    while (!abort.signal.aborted) {
      if (refusals === 0) watchState = 'connecting';
      let busyMs: number | undefined;
      try {
        const stream = await s.http.watch(s.path, abort.signal, idleMs);
        if (stream.status === 404 || (stream.status === 200 && !stream.contentType.startsWith('text/event-stream'))) {
          await stream.body.dump();
          // A plain Spring config server reads /watch/… as an application named "watch".
          watchState = 'unsupported';
          s.log.info(
            { server: stream.url },
            'config server has no watch stream; changes arrive only through refresh()',
          );
          return;
        }
        if (stream.status !== 200) {
          const text = await stream.body.text().catch(() => '');
          throw new ConfigClientError(
            stream.status === 401 ? 'unauthorized' : stream.status === 403 ? 'forbidden' : 'rejected',
            `config server ${stream.url} answered HTTP ${stream.status} to the watch stream${text === '' ? '' : `: ${text.slice(0, 200)}`}`,
          );
        }
        failures = 0;
        refusals = 0;
        await readStream(stream.body);
        if (!abort.signal.aborted) throw new Error('watch stream ended');
      } catch (err) {
        if (abort.signal.aborted) break;
        if (err instanceof ConfigClientError && err.retryAfterMs !== undefined) {
          // Busy, not broken (every stream slot taken): retrying at once or on a short backoff is what filled it. Wait
          // what the server asks, bounded, and poll the environment meanwhile so no change is missed.
          busyMs = Math.min(Math.max(err.retryAfterMs, MIN_BUSY_WAIT_MS), MAX_BUSY_WAIT_MS);
          if (refusals++ === 0) {
            s.log.info(
              { reason: err.message, pollEveryMs: busyMs },
              'config server refused the watch stream; polling until it takes one',
            );
          }
          watchState = 'polling';
        } else {
          failures++;
          refusals = 0;
          s.log.warn(
            { reason: err instanceof Error ? err.message : describeError(err), failures },
            'config watch stream lost; reconnecting',
          );
        }
      }
      if (busyMs !== undefined) {
        await sleep(s.clock, busyMs, abort.signal);
        if (abort.signal.aborted) break;
        // A failed poll is already logged and in the status; the stream is tried again either way.
        await refresh().catch(() => undefined);
        continue;
      }
      // A stream that was healthy is reopened at once (a server restart); repeated failures back off.
      const delay =
        failures <= 1
          ? 0
          : backoffDelay(failures - 1, { initialDelayMs: s.retry.initialIntervalMs, maxDelayMs: 30_000 });
      await sleep(s.clock, delay, abort.signal);
    }
  }

  if (options.watch !== false) {
    loop = watchLoop().catch((err: unknown) => s.log.error({ err }, 'config watch loop failed'));
  }

  const status = (): ConfigClientStatus => ({
    server: s.http.current,
    loaded,
    version: current.version,
    propertySources: current.propertySources,
    lastFetch,
    lastError,
    lastErrorAt,
    watch: watchState,
    undecryptable: current.undecryptable,
  });

  const read = <K extends keyof ConfigReader>(method: K): ConfigReader[K] =>
    ((...args: unknown[]) => (current[method] as (...a: unknown[]) => unknown).apply(current, args)) as ConfigReader[K];

  return {
    get current() {
      return current;
    },
    has: read('has'),
    keys: read('keys'),
    get: read('get'),
    getString: read('getString'),
    getNumber: read('getNumber'),
    getBoolean: read('getBoolean'),
    getList: read('getList'),
    getSecret: read('getSecret'),
    getObject: read('getObject'),
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    refresh,
    status,
    // Logging the client logs the masked configuration, not its closures.
    toJSON: () => ({ ...current.toJSON(), status: status() }),
    close() {
      closing ??= (async () => {
        abort.abort();
        await loop;
        await chain;
        await s.http.close();
        watchState = 'off';
      })();
      return closing;
    },
  };
}
