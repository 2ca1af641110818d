// The discovery client: a local copy of the registry that callers read without I/O. Kept current by the registry's
// watch stream when it has one (changes arrive in milliseconds), else by Eureka's own scheme: a full fetch, then a
// delta every refresh interval, reconciled by `apps__hashcode`.
import type { Dispatcher } from 'undici';
import type { Logger } from '@trellis/kit';
import { describeError } from '../http/agent.ts';
import { InstanceCache, type InstanceChange } from './cache.ts';
import { DiscoveryError } from './errors.ts';
import { RegistryHttp, type RegistryCredentials } from './registry-http.ts';
import { SseParser, type SseEvent } from '../http/sse.ts';
import { backoffDelay, systemClock, type BackoffOptions, type Clock } from '../http/timing.ts';
import { parseJson, readApplications, readWatchChange, type ServiceInstance } from './wire.ts';

export interface DiscoveryClientOptions {
  /** Eureka service URL(s), Spring's `defaultZone` form; tried in order. */
  readonly registryUrl: string | readonly string[];
  readonly logger: Logger;
  /** Delta polling interval when the registry has no watch stream. Default 30 (Eureka's). */
  readonly refreshIntervalSecs?: number;
  /** Use the registry's watch stream when it offers one. Default true. */
  readonly useWatch?: boolean;
  readonly credentials?: RegistryCredentials;
  readonly clock?: Clock;
  /** Backoff between reconnects and failed fetches. */
  readonly retry?: BackoffOptions;
  /** Per request to the registry. Default 5 s. */
  readonly timeoutMs?: number;
  /**
   * A watch stream silent for this long is taken for dead and reopened. Default 45 s: the server pings every 15 s,
   * so three pings were missed.
   */
  readonly watchIdleTimeoutMs?: number;
  readonly dispatcher?: Dispatcher;
}

/** How the cache is being kept current. */
export type DiscoveryMode = 'idle' | 'watch' | 'poll' | 'stopped';

export interface DiscoverySnapshot {
  readonly mode: DiscoveryMode;
  /** The registry URL in use (no credentials). */
  readonly registry: string;
  readonly applications: number;
  readonly instances: number;
  /** When the cache last heard from the registry: a fetch, an event or a ping (ms since epoch). */
  readonly lastContact: number | undefined;
  /** Whether the cache is as current as its mode promises (stream open and pinging, or a fetch within two intervals). */
  readonly fresh: boolean;
  readonly failures: number;
  readonly lastError: string | undefined;
  readonly versionsDelta: string;
  readonly appsHashCode: string;
}

/** Anything the load balancer can take instances from: the discovery client, or a fixed list in a test. */
export interface InstanceSource {
  /** UP instances of an application (case-insensitive name). */
  getInstances(app: string): readonly ServiceInstance[];
}

export type ChangeListener = (changes: readonly InstanceChange[]) => void;

export interface DiscoveryClient extends InstanceSource {
  /** Starts keeping the cache; resolves after the first load attempt (it does not reject when the registry is down). */
  start(): Promise<void>;
  /** Resolves once the cache holds the registry's content; rejects if the client is stopped first. */
  whenReady(): Promise<void>;
  /** Every instance of an application, whatever its status. */
  getAllInstances(app: string): readonly ServiceInstance[];
  /** Registered application names, upper-cased. */
  getApplications(): string[];
  /** Calls `listener` with each batch of changes (a snapshot's difference, a delta, a watch event); returns an unsubscribe. */
  onChange(listener: ChangeListener): () => void;
  snapshot(): DiscoverySnapshot;
  stop(): Promise<void>;
}

/** Eureka keeps three minutes of deltas; a client that has not fetched for longer cannot trust a delta to be complete. */
const DELTA_HORIZON_MS = 150_000;

type Health = 'connecting' | 'ok' | 'failing';

/**
 * Creates the discovery cache. Call `start()`; read with `getInstances(app)`.
 *
 * @example
 * const discovery = createDiscoveryClient({ registryUrl: 'http://localhost:8761/eureka/', logger });
 * await discovery.start();
 * discovery.getInstances('review'); // UP instances of REVIEW
 */
export function createDiscoveryClient(options: DiscoveryClientOptions): DiscoveryClient {
  const clock = options.clock ?? systemClock;
  const refreshMs = (options.refreshIntervalSecs ?? 30) * 1000;
  if (!(refreshMs > 0)) throw new DiscoveryError('invalid_options', 'refreshIntervalSecs must be positive');
  const idleMs = options.watchIdleTimeoutMs ?? 45_000;
  const retry: BackoffOptions = {
    initialDelayMs: options.retry?.initialDelayMs ?? 1000,
    maxDelayMs: Math.min(options.retry?.maxDelayMs ?? refreshMs, refreshMs),
  };
  const http = new RegistryHttp({
    registryUrl: options.registryUrl,
    timeoutMs: options.timeoutMs ?? 5000,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
  });
  const log = options.logger;
  const cache = new InstanceCache();
  const listeners = new Set<ChangeListener>();
  const abort = new AbortController();
  const wakers = new Set<() => void>();

  let mode: DiscoveryMode = 'idle';
  let health: Health = 'connecting';
  let loaded = false;
  let lastContact: number | undefined;
  let lastLoad: number | undefined;
  let streamOpen = false;
  /** In watch mode, polling while the registry refuses the stream. */
  let polling = false;
  let failures = 0;
  let lastError: string | undefined;
  let startPromise: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let firstAttempt: (() => void) | undefined;
  let readyWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  function emit(changes: readonly InstanceChange[]): void {
    if (changes.length === 0) return;
    for (const listener of listeners) {
      try {
        listener(changes);
      } catch (err) {
        // One faulty listener must not stop the cache from updating or the others from hearing.
        log.error({ err }, 'discovery change listener failed');
      }
    }
  }

  function loadedNow(): void {
    const now = clock.now();
    lastContact = now;
    lastLoad = now;
    failures = 0;
    lastError = undefined;
    if (!loaded) {
      loaded = true;
      for (const w of readyWaiters) w.resolve();
      readyWaiters = [];
    }
    if (health !== 'ok') {
      log.info(
        { registry: http.current, mode, applications: cache.applications().length, instances: cache.size },
        streamOpen ? 'watching the registry' : 'fetched the registry',
      );
      health = 'ok';
    }
    firstAttempt?.();
  }

  function failedNow(reason: string): void {
    failures++;
    lastError = reason;
    if (health !== 'failing') {
      // One line when contact is lost; the retries behind it stay quiet until it comes back.
      log.warn(
        { reason, cachedInstances: cache.size },
        'lost contact with the registry; serving cached instances, retrying',
      );
      health = 'failing';
    }
    firstAttempt?.();
  }

  function sleep(ms: number): Promise<void> {
    if (ms <= 0 || abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        wakers.delete(wake);
        clock.clearTimeout(handle);
        resolve();
      };
      const handle = clock.setTimeout(wake, ms);
      wakers.add(wake);
    });
  }

  // --- polling (plain Eureka) -------------------------------------------------------------------------------------

  async function fetchAll(): Promise<void> {
    const answer = await http.send({ method: 'GET', path: 'apps/', signal: abort.signal });
    if (answer.status !== 200) throw new DiscoveryError('registry_rejected', `HTTP ${answer.status} on GET apps/`);
    const changes = cache.replace(readApplications(parseJson(answer.body, 'GET apps/')));
    loadedNow();
    emit(changes);
  }

  async function fetchDelta(): Promise<void> {
    const answer = await http.send({ method: 'GET', path: 'apps/delta', signal: abort.signal });
    if (answer.status !== 200) throw new DiscoveryError('registry_rejected', `HTTP ${answer.status} on GET apps/delta`);
    const { changes, hashMatches } = cache.applyDelta(readApplications(parseJson(answer.body, 'GET apps/delta')));
    emit(changes);
    if (hashMatches) {
      loadedNow();
      return;
    }
    // Eureka's reconciliation: the cache drifted from the server, so take the whole registry again.
    log.debug({ local: cache.hashCode() }, 'apps__hashcode mismatch after delta; fetching the whole registry');
    await fetchAll();
  }

  /** One fetch of the registry (all of it, or a delta); the reason when it failed. */
  async function pollOnce(): Promise<string | undefined> {
    try {
      const stale = lastLoad === undefined || clock.now() - lastLoad > DELTA_HORIZON_MS;
      if (!loaded || stale) await fetchAll();
      else await fetchDelta();
      return undefined;
    } catch (err) {
      return err instanceof DiscoveryError ? err.message : describeError(err);
    }
  }

  async function pollLoop(): Promise<void> {
    while (!abort.signal.aborted) {
      let delay = refreshMs;
      const problem = await pollOnce();
      if (problem !== undefined) {
        if (abort.signal.aborted) return;
        failedNow(problem);
        delay = backoffDelay(failures, retry);
      }
      await sleep(delay);
    }
  }

  // --- watch stream -----------------------------------------------------------------------------------------------

  /** Applies one event; throws when the stream must be reopened (bad data, or the cache no longer matches the server). */
  function onEvent(event: SseEvent, state: { snapshot: boolean }): void {
    if (event.event === 'snapshot') {
      const changes = cache.replace(readApplications(parseJson(event.data, 'watch snapshot')));
      state.snapshot = true;
      loadedNow();
      emit(changes);
      return;
    }
    if (event.event !== 'change' || !state.snapshot) return;
    const change = readWatchChange(parseJson(event.data, 'watch change'));
    const applied = cache.apply(change.action, change.instance);
    cache.versionsDelta = change.versionsDelta;
    if (applied !== undefined) emit([applied]);
    if (change.appsHashCode !== '' && cache.hashCode() !== change.appsHashCode) {
      // A missed event: a new snapshot is the only way back in step.
      throw new DiscoveryError(
        'invalid_response',
        `watch stream out of step (apps__hashcode ${cache.hashCode()} here, ${change.appsHashCode} on the registry)`,
      );
    }
  }

  async function readStream(body: Dispatcher.ResponseData['body']): Promise<void> {
    const parser = new SseParser();
    const state = { snapshot: false };
    // A streaming decoder: a multi-byte character may be split across chunks.
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        lastContact = clock.now();
        for (const event of parser.push(decoder.decode(chunk, { stream: true }))) onEvent(event, state);
      }
    } finally {
      if (!body.destroyed) body.destroy();
    }
    if (!abort.signal.aborted) throw new Error('watch stream ended');
  }

  /**
   * The watch stream could not be opened (the registry is at its cap of streams, answers 503 or 429, or is down). The
   * cache is kept current by Eureka's polling meanwhile, so a registry that refuses streams never leaves the service
   * without instances; the watch is tried again after a refresh interval (as long as plain Eureka clients wait between
   * fetches), or sooner with backoff when the registry cannot be read either.
   */
  async function watchRefused(reason: string): Promise<void> {
    // Freshness is then judged as for polling (a successful fetch within two intervals), from the fetch below on.
    if (!polling) log.info({ reason }, 'registry refused the watch stream; polling until it takes one');
    polling = true;
    const problem = await pollOnce();
    if (abort.signal.aborted) return;
    if (problem !== undefined) {
      failedNow(`${reason}; ${problem}`);
      await sleep(backoffDelay(failures, retry));
      return;
    }
    await sleep(refreshMs);
  }

  /** Returns when the registry has no watch stream (a plain Eureka), so the caller polls instead. */
  async function watchLoop(): Promise<'unsupported' | 'stopped'> {
    while (!abort.signal.aborted) {
      let stream;
      try {
        stream = await http.open({
          method: 'GET',
          path: 'watch',
          accept: 'text/event-stream',
          signal: abort.signal,
          bodyTimeoutMs: idleMs,
        });
      } catch (err) {
        if (abort.signal.aborted) break;
        await watchRefused(err instanceof DiscoveryError ? err.message : describeError(err));
        continue;
      }
      if (stream.status === 404) {
        await stream.body.dump();
        return 'unsupported';
      }
      if (stream.status !== 200) {
        await stream.body.dump();
        await watchRefused(`HTTP ${stream.status} on GET watch`);
        continue;
      }
      streamOpen = true;
      polling = false;
      try {
        await readStream(stream.body);
      } catch (err) {
        if (abort.signal.aborted) break;
        failedNow(err instanceof DiscoveryError ? err.message : describeError(err));
      } finally {
        streamOpen = false;
      }
      // A stream that was healthy is reopened at once (a registry restart); repeated failures back off.
      await sleep(failures <= 1 ? 0 : backoffDelay(failures - 1, retry));
    }
    return 'stopped';
  }

  async function run(): Promise<void> {
    if (options.useWatch !== false) {
      mode = 'watch';
      const outcome = await watchLoop();
      if (outcome === 'stopped') return;
      log.info(
        { registry: http.current, refreshIntervalSecs: refreshMs / 1000 },
        'registry has no watch stream (a plain Eureka); polling deltas',
      );
    }
    mode = 'poll';
    await pollLoop();
  }

  function isFresh(now: number): boolean {
    if (!loaded || lastContact === undefined) return false;
    if (mode === 'watch' && !polling) return streamOpen && now - lastContact <= idleMs;
    if (mode === 'watch') return failures === 0 && now - lastContact <= 2 * refreshMs;
    // Spring's EurekaHealthIndicator calls a client failing once it has not fetched for two intervals.
    return mode === 'poll' && now - lastContact <= 2 * refreshMs;
  }

  return {
    start() {
      if (mode === 'stopped') return Promise.resolve();
      startPromise ??= new Promise<void>((resolve) => {
        firstAttempt = () => {
          firstAttempt = undefined;
          resolve();
        };
        loop = run().catch((err: unknown) => {
          // run() handles its own failures; anything here is a bug, which must be seen but not crash the service.
          log.error({ err }, 'discovery loop failed');
        });
      });
      return startPromise;
    },
    whenReady() {
      if (loaded) return Promise.resolve();
      if (mode === 'stopped')
        return Promise.reject(new DiscoveryError('registry_unavailable', 'discovery client is stopped'));
      return new Promise<void>((resolve, reject) => readyWaiters.push({ resolve, reject }));
    },
    getInstances: (app) => cache.up(app),
    getAllInstances: (app) => cache.all(app),
    getApplications: () => cache.applications(),
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    snapshot() {
      const now = clock.now();
      return {
        mode,
        registry: http.current,
        applications: cache.applications().length,
        instances: cache.size,
        lastContact,
        fresh: isFresh(now),
        failures,
        lastError,
        versionsDelta: cache.versionsDelta,
        appsHashCode: cache.hashCode(),
      };
    },
    async stop() {
      if (mode === 'stopped') return;
      mode = 'stopped';
      abort.abort();
      for (const wake of [...wakers]) wake();
      firstAttempt?.();
      const waiting = readyWaiters;
      readyWaiters = [];
      for (const w of waiting)
        w.reject(new DiscoveryError('registry_unavailable', 'discovery client stopped before it loaded'));
      await loop;
      listeners.clear();
      await http.close();
    },
  };
}
