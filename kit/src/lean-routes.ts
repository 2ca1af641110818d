// Lean routes: the bodiless requests a protocol repeats, answered on the node request as one interceptor.
import type http from 'node:http';
import type { InterceptContext, Interceptor } from './intercept.ts';
import type { RequestLogLevel } from './request-log.ts';
import { setRequestRoute } from './observability/server.ts';

/** What a lean route sees of a request: the node request's parts, nothing parsed beyond the query split. */
export interface LeanRequest {
  readonly method: string;
  /** The path as sent (still percent-encoded), without the query. */
  readonly path: string;
  /** The query string without its `?`; empty when none. */
  readonly search: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly requestId: string;
}

export interface LeanResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** Level of the `request completed` line; 5xx always log at error. Default info. */
  readonly logLevel?: RequestLogLevel;
  /** The template this answer stands for when it is not the route's `uri` (one lean route serving two app routes). */
  readonly uri?: string;
}

/**
 * A route answered on the node request, before the framework: no WHATWG Request or Response, no middleware. Only
 * for a protocol's hot path whose requests carry no body (heartbeats); the kit still sets the request id, the
 * drain's `connection: close` and logs `request completed`. `answer` returns undefined for anything it does not
 * fully handle (another path, bad input, missing credentials), and the request then goes through the app's routes
 * as usual, which must therefore serve the same requests with the same answers.
 */
export interface LeanRoute {
  readonly method: 'GET' | 'PUT' | 'DELETE';
  /** The template the app's matching route has, in Spring's form (`/eureka/apps/{appName}/{instanceId}`): metrics and spans name the request by it. */
  readonly uri: string;
  readonly answer: (req: LeanRequest) => LeanResponse | undefined;
}

const SERVER_ERROR: LeanResponse = {
  status: 500,
  headers: { 'content-type': 'application/json' },
  body: '{"error":"server_error"}',
};

/** One interceptor trying `routes` in order; it reads the array on each request, so routes added later count. */
export function leanRoutes(routes: readonly LeanRoute[]): Interceptor {
  return (req, res, kit) => answerLean(routes, req, res, kit);
}

/**
 * True when a lean route answered. Requests with a body always go to the app (its body limit, its parsers); fetch
 * and most HTTP clients send `content-length: 0` with a bodiless PUT, which is no body.
 */
function answerLean(
  routes: readonly LeanRoute[],
  req: http.IncomingMessage,
  res: http.ServerResponse,
  kit: InterceptContext,
): boolean {
  const length = req.headers['content-length'];
  if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return false;
  const started = performance.now();
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const requestId = kit.requestId(req);
  const request: LeanRequest = {
    method,
    path: q === -1 ? url : url.slice(0, q),
    search: q === -1 ? '' : url.slice(q + 1),
    headers: req.headers,
    requestId,
  };
  for (const route of routes) {
    if (route.method !== method) continue;
    let answer: LeanResponse | undefined;
    try {
      answer = route.answer(request);
    } catch (err) {
      kit.log.error({ err, reqId: requestId }, 'request failed');
      answer = SERVER_ERROR;
    }
    if (answer === undefined) continue;
    setRequestRoute(req, answer.uri ?? route.uri);
    const body = answer.body ?? '';
    res.writeHead(answer.status, {
      ...answer.headers,
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      'x-request-id': requestId,
    });
    res.end(body);
    kit.logCompleted(req, answer.status, started, answer.logLevel);
    return true;
  }
  return false;
}
