// Load-balanced HTTP: `http://review/review?productId=1` goes to an UP instance of REVIEW, chosen round robin; a
// connection error or a 503 is retried once on the next instance, as Spring Cloud LoadBalancer's retry does.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Logger, Observability } from '@trellis/kit';
import { createAgent, describeError, isConnectionError, isTimeoutError } from '../http/agent.ts';
import { HttpClientObserver } from '../http/observe.ts';
import type { InstanceSource } from './client.ts';
import { DiscoveryError } from './errors.ts';
import { isApplicationHost } from './names.ts';
import { RoundRobin } from './load-balancer.ts';
import type { ServiceInstance } from './wire.ts';

export interface LoadBalancedHttpOptions {
  /** Where instances come from: a discovery client. */
  readonly discovery: InstanceSource;
  readonly logger: Logger;
  /** Longest wait for an instance's response headers, and between body chunks. Default 10 s. */
  readonly timeoutMs?: number;
  /** Longest wait for a connection. Default 2 s (or `timeoutMs` when shorter). */
  readonly connectTimeoutMs?: number;
  /** Starting positions of the round robin, a number in [0, 1). Default Math.random. */
  readonly random?: () => number;
  /** An undici dispatcher instead of the client's own keep-alive Agent (custom TLS trust). */
  readonly dispatcher?: Dispatcher;
  /**
   * Retry once on the next instance after a dropped connection or a 503. Default true. Turn it off when the caller
   * wraps requests in the resilience module's Retry, which would otherwise multiply the attempts (2 × its own).
   */
  readonly retryOnNextInstance?: boolean;
  /**
   * Meters and tracer for http_client_requests_seconds and a CLIENT span per request. Default: the observability of
   * the scope the client is made in (`service.inScope`), read once here.
   */
  readonly observability?: Observability;
}

export interface LoadBalancedRequestInit {
  readonly method?: Dispatcher.HttpMethod;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Kept in memory so a retry can send it again. */
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
  /**
   * Retry on the next instance after a 503 or a dropped connection even when the method is not idempotent. Default
   * false: a POST is retried only when the connection was never made, so the first instance cannot have seen it.
   */
  readonly retryNonIdempotent?: boolean;
  readonly timeoutMs?: number;
  /**
   * The request's URI template (`/review?productId={productId}`), the `uri` tag of http_client_requests_seconds.
   * Default `none`, as Micrometer says when no template is known: the raw path would make a series per id.
   */
  readonly uriTemplate?: string;
}

export interface LoadBalancedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** undici's body: read it with `.json()`, `.text()`, or as a stream; consume or `dump()` it to free the socket. */
  readonly body: Dispatcher.ResponseData['body'];
  /** `host:port` of the instance that answered, as a composite service reports it. */
  readonly serviceAddress: string;
  /** The instance that answered; undefined when the URL named a host directly. */
  readonly instance: ServiceInstance | undefined;
}

export interface LoadBalancedHttp {
  /** Sends a request; the URL's host is an application name unless it has a dot or a port, or is `localhost`. */
  request(url: string | URL, init?: LoadBalancedRequestInit): Promise<LoadBalancedResponse>;
  close(): Promise<void>;
}

/** RFC 9110 §9.2.2: a repeat has the same effect as one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Failures where no connection was made, so the instance cannot have seen the request. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The origin to call on an instance: the URL's scheme when the instance has that port enabled, else the one it has.
 *
 * @example
 * instanceOrigin(instance, false); // { origin: 'http://host-1:7003', address: 'host-1:7003' }
 */
export function instanceOrigin(instance: ServiceInstance, wantSecure: boolean): { origin: string; address: string } {
  const secure = wantSecure ? instance.securePort.enabled || !instance.port.enabled : !instance.port.enabled;
  const port = secure ? instance.securePort.port : instance.port.port;
  const address = `${instance.hostName}:${port}`;
  return { origin: `${secure ? 'https' : 'http'}://${address}`, address };
}

/**
 * An HTTP client that resolves application names through the discovery cache.
 *
 * @example
 * const http = createLoadBalancedHttp({ discovery, logger, timeoutMs: 5000 });
 * const res = await http.request('http://review/review?productId=1');
 * const reviews = await res.body.json();
 * console.log(res.serviceAddress); // e.g. 'host-1:7003'
 *
 * @example
 * // Under the resilience module's Retry, which picks the next instance on its own attempts:
 * const http = createLoadBalancedHttp({ discovery, logger, retryOnNextInstance: false });
 */
export function createLoadBalancedHttp(options: LoadBalancedHttpOptions): LoadBalancedHttp {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? Math.min(2000, timeoutMs);
  const dispatcher = options.dispatcher ?? createAgent({ connectTimeoutMs });
  const ownsDispatcher = options.dispatcher === undefined;
  const balancer = new RoundRobin(options.random === undefined ? {} : { random: options.random });
  const log = options.logger;
  const attempts = options.retryOnNextInstance === false ? 1 : 2;
  const observer = HttpClientObserver.of(options.observability);

  /** One attempt; `clientName` is the application name (lower case, as Spring's service id) or the host called. */
  async function send(
    origin: string,
    url: URL,
    init: LoadBalancedRequestInit,
    clientName: string,
  ): Promise<Dispatcher.ResponseData> {
    const wait = init.timeoutMs ?? timeoutMs;
    const method = init.method ?? 'GET';
    const headers = init.headers === undefined ? null : (init.headers as Record<string, string | string[]>);
    const request = (h: Record<string, string | string[]> | null): Promise<Dispatcher.ResponseData> =>
      dispatcher.request({
        origin,
        path: url.pathname + url.search,
        method,
        headers: h,
        body: init.body ?? null,
        signal: init.signal ?? null,
        headersTimeout: wait,
        bodyTimeout: wait,
      });
    if (observer === undefined) return request(headers);
    // Each attempt is its own exchange: the instance that answers continues the trace from this attempt's span.
    const exchange = observer.start(method, new URL(url.pathname, origin), clientName, init.uriTemplate ?? 'none');
    try {
      const res = await request(exchange.headers(headers));
      exchange.end(res.statusCode);
      return res;
    } catch (err) {
      exchange.fail(err);
      throw err;
    }
  }

  function wrap(err: unknown, where: string, app?: string): Error {
    const extra = app === undefined ? { cause: err } : { cause: err, app };
    if (isTimeoutError(err)) return new DiscoveryError('timeout', `${where} did not answer in time`, extra);
    if (isConnectionError(err)) return new DiscoveryError('unreachable', `${where}: ${describeError(err)}`, extra);
    return err instanceof Error ? err : new Error(String(err));
  }

  async function direct(url: URL, init: LoadBalancedRequestInit): Promise<LoadBalancedResponse> {
    const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    try {
      const res = await send(url.origin, url, init, url.hostname);
      return {
        status: res.statusCode,
        headers: res.headers,
        body: res.body,
        serviceAddress: `${url.hostname}:${port}`,
        instance: undefined,
      };
    } catch (err) {
      throw wrap(err, url.host);
    }
  }

  async function balanced(url: URL, init: LoadBalancedRequestInit): Promise<LoadBalancedResponse> {
    const app = url.hostname.toUpperCase();
    const method = (init.method ?? 'GET').toUpperCase();
    const retryAnything = IDEMPOTENT.has(method) || init.retryNonIdempotent === true;
    const tried = new Set<string>();
    let lastError: Error | undefined;
    let previous: ServiceInstance | undefined;
    // At most two attempts: the first instance, then once the next one (Spring's retry on next instance = 1).
    for (let attempt = 0; attempt < attempts; attempt++) {
      const instances = options.discovery.getInstances(app);
      const instance =
        previous === undefined ? balancer.choose(app, instances) : balancer.next(instances, previous, tried);
      if (instance === undefined) break;
      previous = instance;
      tried.add(instance.instanceId);
      const { origin, address } = instanceOrigin(instance, url.protocol === 'https:');
      const last = attempt === attempts - 1;
      let res: Dispatcher.ResponseData;
      try {
        res = await send(origin, url, init, url.hostname.toLowerCase());
      } catch (err) {
        if (init.signal?.aborted === true) throw err;
        lastError = wrap(err, `${app} instance ${address}`, app);
        const code = errorCode(err);
        const retryable = isConnectionError(err) && (retryAnything || (code !== undefined && NOT_SENT.has(code)));
        if (last || !retryable) throw lastError;
        log.debug({ app, instance: instance.instanceId, reason: describeError(err) }, 'retrying on the next instance');
        continue;
      }
      if (res.statusCode === 503 && retryAnything && !last) {
        // Only worth it when another instance exists; else the caller gets this 503 as it is.
        if (options.discovery.getInstances(app).some((i) => !tried.has(i.instanceId))) {
          await res.body.dump();
          log.debug({ app, instance: instance.instanceId }, '503 from instance; retrying on the next instance');
          continue;
        }
      }
      return { status: res.statusCode, headers: res.headers, body: res.body, serviceAddress: address, instance };
    }
    if (lastError !== undefined) throw lastError;
    throw new DiscoveryError('no_instances', `no UP instance of ${app}`, { app });
  }

  return {
    // async, so a malformed URL rejects like every other failure instead of throwing at the call.
    async request(input, init = {}) {
      const url = typeof input === 'string' ? new URL(input) : input;
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`only http and https URLs can be requested, got ${url.protocol}`);
      }
      return isApplicationHost(url) ? balanced(url, init) : direct(url, init);
    },
    async close() {
      if (ownsDispatcher) await dispatcher.close();
    },
  };
}
