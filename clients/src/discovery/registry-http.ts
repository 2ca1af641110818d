// HTTP to the registry: one or more Eureka service URLs tried in order, credentials, JSON, gzip. Shared by the
// registration and the discovery cache so both fail over and authenticate the same way.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { createAgent, describeError } from '../http/agent.ts';
import { parseServiceUrls } from '@trellis/kit';
import { DiscoveryError } from './errors.ts';

const gunzipAsync = promisify(gunzip);

/**
 * Credentials for a registry that protects writes (or reads). Basic, or a bearer token; a token function is called
 * per request so a token from an OAuth client can be refreshed behind it.
 */
export type RegistryCredentials =
  | { readonly username: string; readonly password: string }
  | { readonly token: string | (() => string | Promise<string>) };

/** One registry service URL, without its user info (that goes into the Authorization header, never a log line). */
export interface RegistryEndpoint {
  /** Ends with `/`: `http://localhost:8761/eureka/`. */
  readonly url: string;
  readonly basic: string | undefined;
}

/**
 * Reads Spring's `eureka.client.serviceUrl.defaultZone` form: one URL, a comma-separated list, or an array.
 * User info (`http://user:pass@host:8761/eureka/`) becomes basic credentials for that URL, as in Spring.
 */
export function parseRegistryUrls(value: string | readonly string[]): RegistryEndpoint[] {
  try {
    return parseServiceUrls(value, 'registry URL').map(({ url, basic }) => {
      if (!url.pathname.endsWith('/')) url.pathname += '/';
      return { url: url.href, basic };
    });
  } catch (err) {
    throw new DiscoveryError('invalid_options', (err as Error).message);
  }
}

export interface RegistryAnswer {
  readonly status: number;
  readonly body: string;
  /** The registry URL that answered. */
  readonly endpoint: string;
}

export interface RegistryStream {
  readonly status: number;
  readonly body: Dispatcher.ResponseData['body'];
  readonly endpoint: string;
}

export interface RegistryHttpOptions {
  readonly registryUrl: string | readonly string[];
  readonly credentials?: RegistryCredentials;
  readonly timeoutMs: number;
  readonly dispatcher?: Dispatcher;
}

interface Attempt {
  readonly method: Dispatcher.HttpMethod;
  /** Relative to the registry URL: `apps/REVIEW/host:review:7003?status=UP`. */
  readonly path: string;
  readonly body?: string;
  readonly accept?: string;
  readonly signal?: AbortSignal;
  /** For streams: no body timeout (pings keep it alive) unless given. */
  readonly bodyTimeoutMs?: number;
}

/**
 * Sends a request to the registry URLs in order, from the one that answered last: connection errors, timeouts and
 * 5xx move on to the next URL; any other answer is returned. Throws `registry_unavailable` when none answered.
 */
export class RegistryHttp {
  readonly endpoints: readonly RegistryEndpoint[];
  readonly #credentials: RegistryCredentials | undefined;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  #current = 0;

  constructor(options: RegistryHttpOptions) {
    this.endpoints = parseRegistryUrls(options.registryUrl);
    this.#credentials = options.credentials;
    this.#timeoutMs = options.timeoutMs;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? createAgent({ connectTimeoutMs: Math.min(options.timeoutMs, 5000) });
  }

  /** The registry URL requests go to first. */
  get current(): string {
    return this.#endpoint(this.#current).url;
  }

  /** A request whose whole answer is read (gunzipped when the server compressed it). */
  async send(attempt: Attempt): Promise<RegistryAnswer> {
    return this.#failover(attempt, async (res, endpoint) => {
      const raw = Buffer.from(await res.body.arrayBuffer());
      const encoding = res.headers['content-encoding'];
      const body = encoding === 'gzip' ? (await gunzipAsync(raw)).toString('utf8') : raw.toString('utf8');
      return { status: res.statusCode, body, endpoint };
    });
  }

  /** A request whose body is handed over as a stream (the watch stream); the caller consumes or destroys it. */
  async open(attempt: Attempt): Promise<RegistryStream> {
    return this.#failover(attempt, (res, endpoint) =>
      Promise.resolve({ status: res.statusCode, body: res.body, endpoint }),
    );
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  #endpoint(index: number): RegistryEndpoint {
    const endpoint = this.endpoints[index % this.endpoints.length];
    if (endpoint === undefined) throw new Error('unreachable: registry endpoints are never empty');
    return endpoint;
  }

  async #authorization(endpoint: RegistryEndpoint): Promise<string | undefined> {
    if (endpoint.basic !== undefined) return `Basic ${endpoint.basic}`;
    const c = this.#credentials;
    if (c === undefined) return undefined;
    if ('token' in c) return `Bearer ${typeof c.token === 'string' ? c.token : await c.token()}`;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  async #failover<T>(
    attempt: Attempt,
    read: (res: Dispatcher.ResponseData, endpoint: string) => Promise<T>,
  ): Promise<T> {
    let lastProblem = '';
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.#current + i) % this.endpoints.length;
      const endpoint = this.#endpoint(index);
      const url = new URL(attempt.path, endpoint.url);
      const headers: Record<string, string> = { accept: attempt.accept ?? 'application/json' };
      if (attempt.accept === undefined) headers['accept-encoding'] = 'gzip';
      if (attempt.body !== undefined) headers['content-type'] = 'application/json';
      const authorization = await this.#authorization(endpoint);
      if (authorization !== undefined) headers['authorization'] = authorization;
      let res: Dispatcher.ResponseData;
      try {
        res = await this.#dispatcher.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: attempt.method,
          headers,
          body: attempt.body ?? null,
          signal: attempt.signal ?? null,
          headersTimeout: this.#timeoutMs,
          bodyTimeout: attempt.bodyTimeoutMs ?? this.#timeoutMs,
        });
      } catch (err) {
        // Our own stop: no point trying the next registry.
        if (attempt.signal?.aborted === true) throw err;
        lastProblem = `${endpoint.url}: ${describeError(err)}`;
        continue;
      }
      if (res.statusCode >= 500) {
        await res.body.dump();
        lastProblem = `${endpoint.url}: HTTP ${res.statusCode}`;
        continue;
      }
      this.#current = index;
      try {
        return await read(res, endpoint.url);
      } catch (err) {
        if (attempt.signal?.aborted === true) throw err;
        lastProblem = `${endpoint.url}: ${describeError(err)}`;
      }
    }
    throw new DiscoveryError('registry_unavailable', `no registry answered (${lastProblem})`);
  }
}
