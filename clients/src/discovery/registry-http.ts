// HTTP to the registry: one or more Eureka service URLs tried in order, credentials, JSON, gzip. Shared by the
// registration and the discovery cache so both fail over and authenticate the same way.
import type { Dispatcher } from 'undici';
import { describeError } from '../http/agent.ts';
import { readText } from '../http/body.ts';
import { FailoverHttp, type FailoverPolicy, type FailoverRequest, type ServiceEndpoint } from '../http/failover.ts';
import { parseServiceUrls } from '@trellis/kit';
import { DiscoveryError } from './errors.ts';

/**
 * Credentials for a registry that protects writes (or reads). Basic, or a bearer token; a token function is called
 * per request so a token from an OAuth client can be refreshed behind it.
 */
export type RegistryCredentials =
  | { readonly username: string; readonly password: string }
  | { readonly token: string | (() => string | Promise<string>) };

/** One registry service URL, without its user info (that goes into the Authorization header, never a log line). */
export interface RegistryEndpoint extends ServiceEndpoint {
  /** Ends with `/`: `http://localhost:8761/eureka/`. */
  readonly url: string;
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

/** What is kept of a registry that did not answer: `{url}: {reason}`, for the final error. */
const registryFailures: FailoverPolicy<RegistryEndpoint, string> = {
  target: (endpoint, path) => new URL(path, endpoint.url),
  noAnswer: (err, endpoint) => `${endpoint.url}: ${describeError(err)}`,
  serverError: async (res, endpoint) => {
    await res.body.dump();
    return `${endpoint.url}: HTTP ${res.statusCode}`;
  },
  // A body cut short or not gunzippable is that registry's fault: the next may do better.
  readFailed: (err, endpoint) => `${endpoint.url}: ${describeError(err)}`,
  exhausted: (last) => new DiscoveryError('registry_unavailable', `no registry answered (${last ?? ''})`),
};

/**
 * Sends a request to the registry URLs in order, from the one that answered last: connection errors, timeouts and
 * 5xx move on to the next URL; any other answer is returned. Throws `registry_unavailable` when none answered.
 */
export class RegistryHttp extends FailoverHttp<RegistryEndpoint, string> {
  constructor(options: RegistryHttpOptions) {
    super({
      endpoints: parseRegistryUrls(options.registryUrl),
      credentials: options.credentials,
      timeoutMs: options.timeoutMs,
      dispatcher: options.dispatcher,
      policy: registryFailures,
    });
  }

  /** A request whose whole answer is read (gunzipped when the server compressed it). */
  async send(attempt: Attempt): Promise<RegistryAnswer> {
    return this.request(request(attempt), async (res, endpoint) => ({
      status: res.statusCode,
      body: await readText(res),
      endpoint: endpoint.url,
    }));
  }

  /** A request whose body is handed over as a stream (the watch stream); the caller consumes or destroys it. */
  async open(attempt: Attempt): Promise<RegistryStream> {
    return this.request(request(attempt), (res, endpoint) =>
      Promise.resolve({ status: res.statusCode, body: res.body, endpoint: endpoint.url }),
    );
  }
}

/** JSON unless told otherwise, gzipped when JSON (registry snapshots are large and compress well). */
function request(attempt: Attempt): FailoverRequest {
  const headers: Record<string, string> = { accept: attempt.accept ?? 'application/json' };
  if (attempt.accept === undefined) headers['accept-encoding'] = 'gzip';
  if (attempt.body !== undefined) headers['content-type'] = 'application/json';
  return { ...attempt, headers };
}
