// Response writing: the upstream's answer through the response filters and CORS, and failures as status and body.
import type http from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Logger } from '@trellis/kit';
import { isTimeoutError } from '@trellis/clients/http';
import { ResilienceError } from '@trellis/clients/resilience';
import { errorBody, GatewayError } from '../errors.ts';
import { applyCors } from '../routing/cors.ts';
import type { Exchange, ResponseHead } from '../routing/exchange.ts';
import type { Route } from '../routing/table.ts';
import type { Forwarding } from './forwarding.ts';
import { clientResponseHeaders } from './headers.ts';
import { bodyTooLarge } from './prepare.ts';
import { FallbackStatus, type Answer } from './send.ts';

/** Writes the upstream's head, as the filters and the CORS policy leave it, then streams its body. */
export function writeResponse(fwd: Forwarding, exchange: Exchange, upstream: Answer): void {
  const head: ResponseHead = {
    status: upstream.statusCode,
    headers: clientResponseHeaders(upstream.headers),
  };
  for (const [name, value] of exchange.responseHeaders) head.headers[name] = value;
  for (const f of fwd.route.responseFilters) f.response?.(exchange, head);
  if (fwd.cors !== undefined) applyCors(fwd.cors.policy, fwd.cors.origin, head);
  fwd.res.writeHead(head.status, head.headers as OutgoingHttpHeaders);
  upstream.call.pipeTo(fwd.res);
}

/** Sends the interim 100 Continue a client that announced `Expect: 100-continue` waits for before its body. */
export function continueIfExpected(req: http.IncomingMessage, res: http.ServerResponse): void {
  const expect = req.headers.expect;
  if (expect !== undefined && expect.toLowerCase() === '100-continue' && !res.headersSent) res.writeContinue();
}

/** Why sending failed, as the client is told: 413 for a body over the limit, else the upstream's failure. */
export function sendFailure(fwd: Forwarding, err: unknown, defaultTimeoutMs: number): GatewayError {
  if (fwd.bodyOverLimit) return bodyTooLarge(fwd);
  if (err instanceof FallbackStatus)
    return new GatewayError('bad_gateway', 'the upstream failed', { route: fwd.route.id });
  return upstreamFailure(err, fwd.route, fwd.route.responseTimeoutMs ?? defaultTimeoutMs);
}

/** What the client is told when an upstream call fails: 504 for time, 502 for everything else. */
function upstreamFailure(err: unknown, route: Route, timeoutMs: number): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof ResilienceError && err.code === 'call_not_permitted') {
    return new GatewayError('service_unavailable', 'the circuit breaker is open for this route', {
      route: route.id,
      cause: err,
    });
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (isTimeoutError(err)) {
    return new GatewayError('gateway_timeout', `the upstream did not answer within ${timeoutMs} ms`, {
      route: route.id,
      cause: err,
    });
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new GatewayError('gateway_timeout', 'the upstream did not accept a connection in time', {
      route: route.id,
      cause: err,
    });
  }
  return new GatewayError('bad_gateway', 'the upstream refused or dropped the connection', {
    route: route.id,
    cause: err,
  });
}

/**
 * Answers a failed request: a GatewayError with its status and JSON body (5xx logged at warn, the rest at debug),
 * anything else 500 `server_error` with the detail only in the log. A response already under way is cut instead.
 */
export function writeFailure(log: Logger, res: http.ServerResponse, err: unknown): void {
  if (!(err instanceof GatewayError)) {
    log.error({ err }, 'proxy failed');
    if (res.headersSent) return void res.destroy();
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}');
    return;
  }
  if (err.status >= 500) log.warn({ route: err.route, code: err.code, err: err.cause }, err.message);
  else log.debug({ route: err.route, code: err.code }, err.message);
  if (res.headersSent) return void res.destroy();
  const body = errorBody(err);
  res.writeHead(err.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    // An oversized body is not read to its end: the connection closes instead.
    ...(err.code === 'payload_too_large' ? { connection: 'close' } : {}),
    ...err.headers,
  });
  res.end(body);
}
