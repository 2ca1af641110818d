// One client for a server reachable at several URLs (Spring's comma-separated `defaultZone` and `config.uri`): a request
// goes to the URL that answered last and moves on to the next when one does not answer or answers 5xx.
import type { Dispatcher } from 'undici';
import type { Observability } from '@trellis/kit';
import { createAgent } from './agent.ts';
import { HttpClientObserver } from './observe.ts';

/** One server URL, its user info taken out (that becomes the Authorization header, never a log line). */
export interface ServiceEndpoint {
  readonly url: string;
  /** Base64 `user:password` from the URL's user info, which Spring sends as Basic credentials for that URL. */
  readonly basic: string | undefined;
}

/**
 * Credentials for a server that requires them: Basic, a bearer token (a function is called per request so an OAuth
 * client can refresh it), or a header of the server's own (Spring Cloud Config's `X-Config-Token`).
 */
export type ServiceCredentials =
  | { readonly username: string; readonly password: string }
  | { readonly token: string | (() => string | Promise<string>) }
  | { readonly header: string; readonly value: string };

/** The credential headers for one URL: its own user info wins, as in Spring; else the credentials given. */
export async function credentialHeaders(
  endpoint: ServiceEndpoint,
  credentials: ServiceCredentials | undefined,
): Promise<Record<string, string>> {
  if (endpoint.basic !== undefined) return { authorization: `Basic ${endpoint.basic}` };
  if (credentials === undefined) return {};
  if ('header' in credentials) return { [credentials.header]: credentials.value };
  if ('token' in credentials) {
    const token = typeof credentials.token === 'string' ? credentials.token : await credentials.token();
    return { authorization: `Bearer ${token}` };
  }
  return {
    authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`,
  };
}

export interface FailoverRequest {
  /** Default GET. */
  readonly method?: Dispatcher.HttpMethod;
  /** Relative to the server URL; the policy's `target` joins them. */
  readonly path: string;
  /** Besides the credential headers, which are added per URL. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Our own stop: once aborted, no other URL is tried and the abort is thrown. */
  readonly signal?: AbortSignal | undefined;
  /** Longest wait between body chunks. Default: the client's timeout. */
  readonly bodyTimeoutMs?: number;
  /**
   * The path's template (`/{name}/{profiles}`): a request naming one is timed in http_client_requests_seconds and
   * traced with a CLIENT span when the client is observed. Long-lived streams leave it out.
   */
  readonly uriTemplate?: string;
}

/** How one client joins its paths and names its failures (`P`, what is remembered of the last failed URL). */
export interface FailoverPolicy<E extends ServiceEndpoint, P> {
  readonly target: (endpoint: E, path: string) => URL;
  /** A request that got no answer. Throw instead of returning to stop there (a problem every URL would share). */
  readonly noAnswer: (err: unknown, endpoint: E, request: FailoverRequest) => P;
  /**
   * A credentials function that failed (an OAuth token fetch), counted like a URL that did not answer; without this
   * hook the failure is thrown as it is.
   */
  readonly credentialsFailed?: (err: unknown, endpoint: E, request: FailoverRequest) => P;
  /** A 5xx answer, its body not read yet: read or dump it. */
  readonly serverError: (res: Dispatcher.ResponseData, endpoint: E, request: FailoverRequest) => Promise<P>;
  /** An answer that failed while being read moves on to the next URL with this; without it, the failure is thrown. */
  readonly readFailed?: (err: unknown, endpoint: E) => P;
  /** What to throw when no URL answered. */
  readonly exhausted: (last: P | undefined) => Error;
}

export interface FailoverHttpOptions<E extends ServiceEndpoint, P> {
  /** At least one. */
  readonly endpoints: readonly E[];
  readonly credentials?: ServiceCredentials | undefined;
  /** Longest wait for an answer's headers (and, by default, between body chunks); bounds the connect time to 5 s. */
  readonly timeoutMs: number;
  /** Used instead of an own Agent; `close` then leaves it open. */
  readonly dispatcher?: Dispatcher | undefined;
  /** PEM of the CA(s) the own Agent trusts instead of the system roots. */
  readonly ca?: string | readonly string[] | undefined;
  readonly policy: FailoverPolicy<E, P>;
  /** Meters and tracer for the requests that name a `uriTemplate`. Default: the current scope's, read once here. */
  readonly observability?: Observability | undefined;
}

/**
 * Sends each request to the URLs in order, from the one that answered last: no answer and 5xx move on to the next URL,
 * any other answer is handed to `read` (a 4xx from one server would be a 4xx from its twin).
 */
export class FailoverHttp<E extends ServiceEndpoint, P> {
  readonly endpoints: readonly E[];
  readonly #credentials: ServiceCredentials | undefined;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #policy: FailoverPolicy<E, P>;
  readonly #observer: HttpClientObserver | undefined;
  #current = 0;

  constructor(options: FailoverHttpOptions<E, P>) {
    if (options.endpoints.length === 0) throw new TypeError('a failover client needs at least one URL');
    this.endpoints = [...options.endpoints];
    this.#credentials = options.credentials;
    this.#timeoutMs = options.timeoutMs;
    this.#policy = options.policy;
    this.#observer = HttpClientObserver.of(options.observability);
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      createAgent({
        connectTimeoutMs: Math.min(options.timeoutMs, 5000),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      });
  }

  /** The URL requests go to first (the one that answered last). */
  get current(): string {
    return this.#endpoint(this.#current).url;
  }

  async request<T>(
    request: FailoverRequest,
    read: (res: Dispatcher.ResponseData, endpoint: E) => Promise<T>,
  ): Promise<T> {
    let last: P | undefined;
    for (let i = 0; i < this.endpoints.length; i++) {
      const index = (this.#current + i) % this.endpoints.length;
      const endpoint = this.#endpoint(index);
      let credentials: Record<string, string>;
      try {
        credentials = await credentialHeaders(endpoint, this.#credentials);
      } catch (err) {
        if (this.#policy.credentialsFailed === undefined || request.signal?.aborted === true) throw err;
        last = this.#policy.credentialsFailed(err, endpoint, request);
        continue;
      }
      let res: Dispatcher.ResponseData;
      try {
        res = await this.#send(endpoint, request, credentials);
      } catch (err) {
        if (request.signal?.aborted === true) throw err;
        last = this.#policy.noAnswer(err, endpoint, request);
        continue;
      }
      if (res.statusCode >= 500) {
        last = await this.#policy.serverError(res, endpoint, request);
        continue;
      }
      this.#current = index;
      try {
        return await read(res, endpoint);
      } catch (err) {
        if (this.#policy.readFailed === undefined || request.signal?.aborted === true) throw err;
        last = this.#policy.readFailed(err, endpoint);
      }
    }
    throw this.#policy.exhausted(last);
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #send(
    endpoint: E,
    request: FailoverRequest,
    credentials: Record<string, string>,
  ): Promise<Dispatcher.ResponseData> {
    const url = this.#policy.target(endpoint, request.path);
    const method = request.method ?? 'GET';
    const send = (headers: Record<string, string | string[]>): Promise<Dispatcher.ResponseData> =>
      this.#dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method,
        headers,
        body: request.body ?? null,
        signal: request.signal ?? null,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: request.bodyTimeoutMs ?? this.#timeoutMs,
      });
    const headers = { ...request.headers, ...credentials };
    if (this.#observer === undefined || request.uriTemplate === undefined) return await send(headers);
    // One exchange per URL tried: each server that answers continues the trace from its own attempt.
    const exchange = this.#observer.start(method, url, url.hostname, request.uriTemplate);
    try {
      const res = await send(exchange.headers(headers) ?? {});
      exchange.end(res.statusCode);
      return res;
    } catch (err) {
      exchange.fail(err);
      throw err;
    }
  }

  #endpoint(index: number): E {
    const endpoint = this.endpoints[index % this.endpoints.length];
    if (endpoint === undefined) throw new Error('unreachable: failover endpoints are never empty');
    return endpoint;
  }
}
