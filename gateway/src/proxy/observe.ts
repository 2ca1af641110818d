// The gateway's meters under Spring Cloud Gateway's and Resilience4j's names, and its upstream CLIENT spans.
import { STATUS_CODES } from 'node:http';
import {
  boundTimer,
  context,
  counter,
  failSpan,
  gauge,
  methodLabel,
  SpanKind,
  SpanStatusCode,
  timer,
  trace,
  TRACE_HEADERS,
  type Context,
  type Counter,
  type Histogram,
  type Metrics,
  type Span,
  type Tracing,
} from '@trellis/kit';
import { ResilienceError } from '@trellis/clients/resilience';
import { GatewayError } from '../errors.ts';
import type { HeaderMap } from '../routing/exchange.ts';
import type { Route, RouteTable } from '../routing/table.ts';

/** Spring's HttpStatus names where node's reason phrase does not upper-case to them. */
const SPRING_STATUS_NAMES: Readonly<Record<number, string>> = {
  302: 'FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  416: 'REQUESTED_RANGE_NOT_SATISFIABLE',
  418: 'I_AM_A_TEAPOT',
};

/**
 * The `outcome`, `status` and `httpStatusCode` tags as Spring Cloud Gateway's GatewayHttpTagsProvider writes them:
 * the status series (SUCCESSFUL, not Micrometer's SUCCESS), HttpStatus's enum name, the number; CUSTOM/NA when the
 * client saw no status (the connection was cut before the head).
 */
function statusTags(status: number): { outcome: string; status: string; httpStatusCode: string } {
  const phrase = STATUS_CODES[status];
  if (status === 0 || phrase === undefined) {
    return status === 0
      ? { outcome: 'CUSTOM', status: 'CUSTOM', httpStatusCode: 'NA' }
      : { outcome: 'CUSTOM', status: String(status), httpStatusCode: String(status) };
  }
  const series =
    status >= 500
      ? 'SERVER_ERROR'
      : status >= 400
        ? 'CLIENT_ERROR'
        : status >= 300
          ? 'REDIRECTION'
          : status >= 200
            ? 'SUCCESSFUL'
            : 'INFORMATIONAL';
  const name = SPRING_STATUS_NAMES[status] ?? phrase.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
  return { outcome: series, status: name, httpStatusCode: String(status) };
}

/** The route's configured URI as a tag: `lb://name` or `http://host:port`, never with credentials in it. */
export function routeUriTag(route: Route): string {
  return route.definition.uri.replace(/^([a-z:]+\/\/)[^/@]*@/i, '$1');
}

/** Why an upstream call failed, as a small closed set of tag values; undefined for failures that are not the upstream's. */
export function upstreamErrorReason(err: unknown): string | undefined {
  if (err instanceof GatewayError) return err.code === 'service_unavailable' ? 'no_instance' : undefined;
  if (err instanceof ResilienceError) return undefined;
  const code = (err as { code?: unknown } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connect_refused';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return 'connect_timeout';
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return 'response_timeout';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return 'reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unknown_host';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
      return 'unreachable';
    default:
      return 'other';
  }
}

type RequestLabel = 'routeId' | 'routeUri' | 'outcome' | 'status' | 'httpStatusCode' | 'httpMethod';
interface Observer {
  observe(value: number): void;
}

const BREAKER_STATES = ['CLOSED', 'OPEN', 'HALF_OPEN', 'DISABLED', 'FORCED_OPEN', 'METRICS_ONLY'] as const;

/**
 * The gateway's meters on the service's registry. Children are bound once per route and label set (a table refresh
 * makes new Route objects, so the cache is weak and old routes' entries go with them).
 */
export class GatewayMeters {
  readonly #requests: Histogram<RequestLabel>;
  readonly #upstreamErrors: Counter<'routeId' | 'reason'>;
  readonly #refusals: Counter<'routeId'>;
  /** By route, then method label, then status: lookups only, no key string made per request. */
  readonly #bound = new WeakMap<Route, Map<string, Map<number, Observer>>>();

  constructor(metrics: Metrics, table: () => RouteTable) {
    this.#requests = timer<RequestLabel>(
      metrics,
      'spring_cloud_gateway_requests_seconds',
      'Gateway requests by route, as Spring Cloud Gateway’s spring.cloud.gateway.requests',
      ['routeId', 'routeUri', 'outcome', 'status', 'httpStatusCode', 'httpMethod'],
    );
    this.#upstreamErrors = counter(
      metrics,
      'trellis_gateway_upstream_errors_total',
      'Upstream calls that failed before an answer, by route and reason',
      ['routeId', 'reason'],
    );
    this.#refusals = counter(
      metrics,
      'trellis_gateway_rate_limit_refusals_total',
      'Requests RequestRateLimiter refused (429), by route',
      ['routeId'],
    );
    // Resilience4j's Micrometer binder: one series per state, 1 for the breaker's current one. Read at scrape time
    // from the table in force, so breakers of removed routes disappear.
    gauge(metrics, 'resilience4j_circuitbreaker_state', 'The states of the circuit breaker', ['name', 'state'], (g) => {
      g.reset();
      const seen = new Set<string>();
      for (const route of table().routes) {
        const breaker = route.features.circuitBreaker?.breaker;
        if (breaker === undefined || seen.has(breaker.name)) continue;
        seen.add(breaker.name);
        const current = breaker.state;
        for (const state of BREAKER_STATES) {
          g.set({ name: breaker.name, state: state.toLowerCase() }, state === current ? 1 : 0);
        }
      }
    });
  }

  /** One answered request of `route`; `status` 0 when the client saw none. */
  request(route: Route, requestMethod: string, status: number, seconds: number): void {
    const method = methodLabel(requestMethod);
    let byMethod = this.#bound.get(route);
    if (byMethod === undefined) this.#bound.set(route, (byMethod = new Map<string, Map<number, Observer>>()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map<number, Observer>()));
    let child = byStatus.get(status);
    if (child === undefined) {
      child = boundTimer(this.#requests, {
        routeId: route.id,
        routeUri: routeUriTag(route),
        httpMethod: method,
        ...statusTags(status),
      });
      byStatus.set(status, child);
    }
    child.observe(seconds);
  }

  upstreamError(routeId: string, reason: string): void {
    this.#upstreamErrors.inc({ routeId, reason });
  }

  rateLimitRefusal(routeId: string): void {
    this.#refusals.inc({ routeId });
  }
}

/**
 * A copy of `headers` whose trace headers are those of `ctx` (the gateway's client span), in the configured format:
 * the caller's traceparent or B3 headers never reach the upstream beside them, which would make the caller's span
 * the parent and lose the gateway's hop (or let a client plant a second trace id).
 */
export function tracedHeaders(tracing: Tracing, headers: Readonly<HeaderMap>, ctx: Context): HeaderMap {
  const out: HeaderMap = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !TRACE_HEADERS.has(name)) out[name] = value;
  }
  tracing.inject(out, ctx);
  return out;
}

export interface UpstreamSpanTarget {
  readonly origin: string;
  readonly host: string;
  readonly port: number;
}

/**
 * Starts the CLIENT span of one upstream call, child of `parent` (by default the active context: the kit's SERVER
 * span of the request), and the context to inject into the upstream request.
 */
export function startUpstreamSpan(
  tracing: Tracing,
  method: string,
  routeId: string,
  routeUri: string,
  target: UpstreamSpanTarget,
  path: string,
  parent: Context = context.active(),
): { span: Span; ctx: Context } {
  const name = methodLabel(method);
  const span = tracing.startSpan(
    `${name} ${routeId}`,
    SpanKind.CLIENT,
    {
      'http.request.method': name,
      'server.address': target.host,
      'server.port': target.port,
      // Without the query: queries may carry tokens.
      'url.full': target.origin + path,
      'spring.cloud.gateway.route.id': routeId,
      'spring.cloud.gateway.route.uri': routeUri,
    },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Ends an upstream span with the answer's status (5xx marks it failed, as an OpenTelemetry client span). */
export function endUpstreamSpan(span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** Ends an upstream span failed by `err`. */
export function failUpstreamSpan(span: Span, err: unknown): void {
  failSpan(span, err);
  span.end();
}
