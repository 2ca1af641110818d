// Sending: the upstream call with the route's Retry and CircuitBreaker around it, timed by undici's own timers.
import { isConnectionError, isTimeoutError } from '@trellis/clients/http';
import type { ServiceInstance } from '@trellis/clients/discovery';
import { ResilienceError } from '@trellis/clients/resilience';
import { GatewayError } from '../errors.ts';
import type { Exchange } from '../routing/exchange.ts';
import { withQuery } from '../routing/request-path.ts';
import type { Route } from '../routing/table.ts';
import { UpstreamCall, type Answer } from './call.ts';
import type { Forwarding, ProxyDeps } from './forwarding.ts';
import { routeUriTag, startUpstreamSpan, tracedHeaders, upstreamErrorReason } from './observe.ts';
import { chooseTarget, type Target } from './target.ts';

export type { Answer };

/** The fallback marker: the breaker's `statusCodes` matched, so the answer is the fallback route's. */
export class FallbackStatus extends Error {}

const NONE_TRIED: ReadonlySet<string> = new Set();

/** One upstream call with the route's Retry and CircuitBreaker around it. */
export async function send(deps: ProxyDeps, fwd: Forwarding, exchange: Exchange): Promise<Answer> {
  const route = fwd.route;
  const method = fwd.req.method ?? 'GET';
  const retry = route.features.retry;
  const breaker = route.features.circuitBreaker;
  // Bodies are streamed, never kept, so only a bodiless request can be sent twice.
  const attempts = retry !== undefined && !fwd.hasBody && retry.methods.has(method) ? retry.retries + 1 : 1;
  // Made for lb:// routes only: a route with a URL has one target and never asks which were tried.
  let tried: Set<string> | undefined;
  let previous: ServiceInstance | undefined;
  for (let n = 1; ; n++) {
    try {
      // Inside the try, so a route without an UP instance counts as an upstream error too (it is not retried).
      const target = chooseTarget(deps, route, previous, tried ?? NONE_TRIED);
      if (target.instance !== undefined) (tried ??= new Set()).add(target.instance.instanceId);
      previous = target.instance;
      const response =
        breaker === undefined
          ? await attempt(deps, fwd, exchange, target)
          : await breaker.breaker.execute(() => attempt(deps, fwd, exchange, target), {
              recordResult: (r) => breaker.statusCodes.has(r.statusCode),
            });
      const status = response.statusCode;
      const retryStatus =
        retry !== undefined && (retry.statuses.has(status) || retry.series.has(Math.floor(status / 100)));
      if (n < attempts && retryStatus) {
        await response.call.discard();
        await sleep(backoff(retry, n));
        continue;
      }
      if (breaker?.fallbackPath !== undefined && breaker.statusCodes.has(status)) {
        await response.call.discard();
        throw new FallbackStatus();
      }
      return response;
    } catch (err) {
      if (deps.meters !== undefined && !fwd.clientGone && !fwd.bodyOverLimit && !(err instanceof FallbackStatus)) {
        const reason = upstreamErrorReason(err);
        if (reason !== undefined) deps.meters.upstreamError(route.id, reason);
      }
      if (n < attempts && retryableError(err) && !fwd.clientGone) {
        await sleep(backoff(retry, n));
        continue;
      }
      throw err;
    }
  }
}

/**
 * One request to one upstream, answered when its head is in (the call resolves its own promise with the answer:
 * an async function here was one more promise and turn of the microtask queue per request). A synchronous failure
 * rejects too, as it did when this was async, so Retry and the breaker see every failure the same way.
 */
function attempt(deps: ProxyDeps, fwd: Forwarding, exchange: Exchange, target: Target): Promise<Answer> {
  try {
    const route = fwd.route;
    const pool = deps.upstreams.pool(target.origin, route.connectTimeoutMs ?? deps.connectTimeoutMs);
    const call = new UpstreamCall(deps.authServer, target);
    call.onCut = (err) =>
      deps.log.warn(
        { route: route.id, upstream: target.origin, code: 'bad_gateway', err },
        'the upstream dropped the connection mid-response; the client connection was cut, so it cannot take the body for complete',
      );
    fwd.call = call;
    const method = fwd.req.method ?? 'GET';
    let sent = deps.authServer.headersFor(target, exchange.headers);
    if (deps.tracing !== undefined) {
      // One CLIENT span per attempt, the parent of the upstream's server span; the call ends it with the body.
      const { span, ctx } = startUpstreamSpan(
        deps.tracing,
        method,
        route.id,
        routeUriTag(route),
        target,
        exchange.path,
      );
      call.span = span;
      sent = tracedHeaders(deps.tracing, sent, ctx);
    }
    pool.dispatch(
      {
        method,
        path: withQuery(exchange.path, exchange.query),
        headers: sent as Record<string, string | string[]>,
        body: fwd.body ?? null,
        // undici's own timers (one shared wheel), not a setTimeout per request.
        headersTimeout: route.responseTimeoutMs ?? deps.responseTimeoutMs,
        bodyTimeout: 0,
      },
      call,
    );
    return call.head;
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function retryableError(err: unknown): boolean {
  if (err instanceof GatewayError || err instanceof ResilienceError) return false;
  return isConnectionError(err) || isTimeoutError(err);
}

function backoff(retry: Route['features']['retry'], n: number): number {
  if (retry === undefined || retry.firstBackoffMs <= 0) return 0;
  const ms = retry.firstBackoffMs * retry.factor ** (n - 1);
  return retry.maxBackoffMs > 0 ? Math.min(ms, retry.maxBackoffMs) : ms;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
