// The load-balanced HTTP client behind the resilience instances named after the application it calls. The client's
// own retry on the next instance (Spring Cloud LoadBalancer's) happens inside one attempt of ours.
import type { LoadBalancedHttp, LoadBalancedResponse } from '../discovery/http.ts';
import { isApplicationHost } from '../discovery/names.ts';
import type { ExecuteOptions, ResilienceRegistry } from './registry.ts';

export interface ResilientHttpOptions {
  /** The instance name for a URL. Default: the application name in lower case (`review`), else `host:port`. */
  readonly instanceName?: (url: URL) => string;
  /** Responses the circuit breaker counts as failures. Default: status 500 and above. */
  readonly failureStatus?: (status: number) => boolean;
  /** Layers per call as in {@link ExecuteOptions} (e.g. `{ retry: false }` for non-idempotent calls). */
  readonly layers?: Pick<ExecuteOptions<LoadBalancedResponse>, 'retry' | 'circuitBreaker' | 'timeLimiter' | 'bulkhead'>;
}

/**
 * Wraps a load-balanced HTTP client so each request goes through Retry(CircuitBreaker(TimeLimiter(Bulkhead(request)))),
 * the time limiter aborting the request's socket.
 *
 * @example
 * const http = withResilience(createLoadBalancedHttp({ discovery, logger }), resilience);
 * const res = await http.request('http://review/review?productId=1'); // instances named `review`
 */
export function withResilience(
  http: LoadBalancedHttp,
  registry: ResilienceRegistry,
  options: ResilientHttpOptions = {},
): LoadBalancedHttp {
  const failureStatus = options.failureStatus ?? ((status: number) => status >= 500);
  const instanceName =
    options.instanceName ?? ((url: URL) => (isApplicationHost(url) ? url.hostname.toLowerCase() : url.host));
  return {
    async request(input, init = {}) {
      const url = typeof input === 'string' ? new URL(input) : input;
      return registry.execute(instanceName(url), ({ signal }) => http.request(url, { ...init, signal }), {
        ...options.layers,
        ...(init.signal === undefined ? {} : { signal: init.signal }),
        recordResult: (res) => failureStatus(res.status),
      });
    },
    close: () => http.close(),
  };
}
