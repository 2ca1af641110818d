// The gateway's one error class. Every refusal the gateway itself makes (as opposed to an upstream's answer) is one of
// these codes, rendered as JSON naming the route so an operator can tell which route failed without reading logs.
import { TrellisError } from '@trellis/kit';

export type GatewayErrorCode =
  /** No route's predicates match the request. */
  | 'no_route'
  /** The request itself is unusable (conflicting framing headers, a malformed header). */
  | 'bad_request'
  /** The body is larger than the route's RequestSize or the global --max-request-size. */
  | 'payload_too_large'
  /** The request's headers are larger than node's limit (--max-http-header-size). */
  | 'header_too_large'
  /** The request's line and headers did not arrive within --headers-timeout-ms. */
  | 'request_timeout'
  /** TRACE, TRACK, CONNECT or a method node does not know: never forwarded. */
  | 'method_not_allowed'
  /** No bearer token, or one that does not verify. */
  | 'unauthorized'
  /** The token lacks a scope the route requires, or the caller may not change routes. */
  | 'forbidden'
  /** RequestRateLimiter refused the request. */
  | 'too_many_requests'
  /** The upstream refused the connection, reset it, or answered something that is not HTTP. */
  | 'bad_gateway'
  /** The upstream did not connect or answer within the route's timeouts. */
  | 'gateway_timeout'
  /** `lb://` found no UP instance, the circuit breaker is open, or the token issuer cannot be reached. */
  | 'service_unavailable'
  /** A route definition (file or management API) that cannot work; the message names the route and the part. */
  | 'invalid_route'
  /** The management API was asked for a route that does not exist. */
  | 'unknown_route'
  /**
   * The management API was asked to delete a route that the routes file defines, or to change one worker's table
   * (--workers).
   */
  | 'route_conflict'
  /** The management API was sent a body that is not application/json. */
  | 'unsupported_media_type'
  /** The management API was asked to create a route beyond --max-routes. */
  | 'too_many_routes';

const STATUS = {
  no_route: 404,
  bad_request: 400,
  payload_too_large: 413,
  header_too_large: 431,
  request_timeout: 408,
  method_not_allowed: 405,
  unauthorized: 401,
  forbidden: 403,
  too_many_requests: 429,
  bad_gateway: 502,
  gateway_timeout: 504,
  service_unavailable: 503,
  invalid_route: 400,
  unknown_route: 404,
  route_conflict: 409,
  unsupported_media_type: 415,
  too_many_routes: 409,
} as const satisfies Record<GatewayErrorCode, number>;

export class GatewayError extends TrellisError<GatewayErrorCode> {
  /** The route the request matched, named in the JSON answer. */
  readonly route: string | undefined;
  /** Extra response headers (WWW-Authenticate, X-RateLimit-*). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: GatewayErrorCode,
    message: string,
    options: { route?: string | undefined; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.route = options.route;
    this.headers = options.headers ?? {};
  }

  get status(): number {
    return STATUS[this.code];
  }
}

/** The JSON body of a gateway refusal: the code, a reason the caller can act on, and the route when one matched. */
export function errorBody(err: GatewayError): string {
  return JSON.stringify({
    error: err.code,
    message: err.message,
    ...(err.route === undefined ? {} : { route: err.route }),
  });
}
