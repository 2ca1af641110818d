// Each request a service takes, observed once on the node request: its server span and its http_server_requests timer.
import type http from 'node:http';
import { context, ROOT_CONTEXT, SpanStatusCode, type Span } from '@opentelemetry/api';
import type { Metrics } from './metrics.ts';
import { contextWithSpan } from './spans.ts';
import type { Tracing } from './tracing.ts';

const ROUTE = Symbol('trellis.route');
const EXCEPTION = Symbol('trellis.exception');
type ObservedRequest = http.IncomingMessage & { [ROUTE]?: string; [EXCEPTION]?: string };

/**
 * Names the route that answered `req` by its template (`/eureka/apps/{appName}`, a gateway route id): the `uri` tag of
 * http_server_requests_seconds and the span's `http.route`. Whoever answers sets it: the app, a lean route, an
 * interceptor. Never the raw path: paths carry ids and would make a metric series per request.
 */
export function setRequestRoute(req: http.IncomingMessage, template: string): void {
  (req as ObservedRequest)[ROUTE] = template;
}

/** Names the exception that failed `req` (its class name): Micrometer's `exception` tag. */
export function setRequestException(req: http.IncomingMessage, err: unknown): void {
  (req as ObservedRequest)[EXCEPTION] = err instanceof Error ? err.constructor.name : 'Error';
}

/** Route paths already put in Spring's form: an app has a fixed set, and the replacement ran on every request. */
const templates = new Map<string, string>();

/** A hono route path in Spring's form: `/apps/:appName{[A-Z]+}` → `/apps/{appName}`. */
export function springTemplate(routePath: string): string {
  let template = templates.get(routePath);
  if (template === undefined) {
    template = routePath.replace(/:(\w+)(\{[^}]*\})?\??/g, '{$1}');
    templates.set(routePath, template);
  }
  return template;
}

/** Spring's `uri` for a request no route named: NOT_FOUND, REDIRECTION or UNKNOWN. */
function unnamedRoute(status: number): string {
  if (status === 404) return 'NOT_FOUND';
  if (status >= 300 && status < 400) return 'REDIRECTION';
  return 'UNKNOWN';
}

type Handle = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Whether a request's own trace headers are continued; a service at the public edge trusts only some callers. */
export type TraceTrust = (req: http.IncomingMessage) => boolean;

const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE']);

/**
 * The method as a label or span name: the standard ones, else `_OTHER` (OpenTelemetry's convention). Node's parser
 * takes some thirty methods; each would make its own series of every route and status.
 */
export function methodLabel(method: string | undefined): string {
  return method !== undefined && METHODS.has(method) ? method : '_OTHER';
}

/**
 * Wraps a service's node-level handler so every request, whoever answers it, is timed and (with tracing) runs inside
 * a server span continuing the caller's trace. Without metrics and tracing the handler is returned as it is.
 */
export function observeRequests(
  handle: Handle,
  metrics: Metrics | undefined,
  tracing: Tracing | undefined,
  trusted?: TraceTrust,
): Handle {
  if (metrics === undefined && tracing === undefined) return handle;
  return (req, res) => {
    const started = performance.now();
    const method = methodLabel(req.method);
    if (tracing === undefined) {
      res.once('close', () => finish(req, res, method, started, metrics, undefined));
      handle(req, res);
      return;
    }
    // Most requests carry no trace headers (a caller outside any trace): the propagators need not look. A caller
    // the service does not trust starts a new trace: its headers would choose the sampling and the trace id.
    const h = req.headers;
    const parent =
      (h.traceparent === undefined && h.b3 === undefined && h['x-b3-traceid'] === undefined) ||
      (trusted !== undefined && !trusted(req))
        ? ROOT_CONTEXT
        : tracing.extract(h);
    // No raw path: it may carry ids or a token, and its length is the caller's choice; `http.route` names it. The
    // attributes are set at the end, and only on a recorded span (most are not: sampling).
    const span = tracing.startServerSpan(method, parent);
    res.once('close', () => finish(req, res, method, started, metrics, span));
    context.with(contextWithSpan(parent, span), handle, undefined, req, res);
  };
}

function finish(
  req: ObservedRequest,
  res: http.ServerResponse,
  method: string,
  started: number,
  metrics: Metrics | undefined,
  span: Span | undefined,
): void {
  // A response cut before it was sent (client gone, drain deadline) has no status the client saw.
  const status = res.headersSent ? res.statusCode : 0;
  const route = req[ROUTE] ?? unnamedRoute(status);
  const exception = req[EXCEPTION] ?? 'none';
  metrics?.serverRequest(method, route, status, exception, (performance.now() - started) / 1000);
  if (span === undefined) return;
  if (span.isRecording()) {
    span.updateName(`${method} ${route}`);
    span.setAttribute('http.request.method', method);
    span.setAttribute('http.route', route);
    span.setAttribute('http.response.status_code', status);
    if (status >= 500 || status === 0) span.setStatus({ code: SpanStatusCode.ERROR });
    if (req[EXCEPTION] !== undefined) span.setAttribute('error.type', exception);
  }
  span.end();
}
