// What the proxy's steps share: the parts resolved once from its options, and one request's state as it moves on.
import type http from 'node:http';
import type { Logger, Tracing, TrustedProxies } from '@trellis/kit';
import type { InstanceSource, RoundRobin } from '@trellis/clients/discovery';
import type { TokenIntrospector, TokenVerifier } from '@trellis/clients/security';
import type { Dispatcher } from 'undici';
import type { AuthServerUpstreams } from './auth-server.ts';
import type { CorsPolicy } from '../routing/cors.ts';
import type { Match, Route, RouteTable } from '../routing/table.ts';
import type { UpstreamCall } from './call.ts';
import type { InFlightLimit } from './in-flight.ts';
import type { GatewayMeters } from './observe.ts';
import type { Upstreams } from './upstreams.ts';

/** The proxy's collaborators and settings, resolved once by createProxy and handed to every step. */
export interface ProxyDeps {
  /** The current route table; read once per request, so a swap never affects a request under way. */
  readonly table: () => RouteTable;
  readonly upstreams: Upstreams;
  readonly discovery: InstanceSource | undefined;
  readonly balancer: RoundRobin;
  readonly verifier: TokenVerifier | undefined;
  readonly introspector: TokenIntrospector | undefined;
  readonly log: Logger;
  readonly now: () => number;
  readonly trusted: TrustedProxies;
  readonly responseTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxRequestSize: number | undefined;
  /** The upstreams given the proxy secret and the auth server's cookies (every other one is sent neither). */
  readonly authServer: AuthServerUpstreams;
  /** undefined: no cap on the requests one source has in flight. */
  readonly inFlight: InFlightLimit | undefined;
  readonly actuator: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | undefined;
  readonly ownPath: (path: string) => boolean;
  /** The gateway's meters; undefined with metrics off. */
  readonly meters?: GatewayMeters | undefined;
  /** The service's tracer; undefined with tracing off (no span is made then). */
  readonly tracing?: Tracing | undefined;
}

/** What aborts the upstream call when the client disconnects before its answer is complete. */
export const CLIENT_GONE = new Error('the client closed the connection');

/** The CORS policy an answer's headers follow, with the Origin the request came from. */
export interface CorsGrant {
  readonly policy: CorsPolicy;
  readonly origin: string;
}

/**
 * One matched request on its way upstream: what the steps after matching read, and what they leave for the next
 * (the body to stream, the upstream call to stop when the client leaves). A class, so every request has one shape.
 */
export class Forwarding {
  readonly req: http.IncomingMessage;
  readonly res: http.ServerResponse;
  readonly match: Match;
  readonly route: Route;
  readonly secure: boolean;
  /** undefined for a same-origin request, or one no CORS policy covers. */
  readonly cors: CorsGrant | undefined;
  /** Sent to the circuit breaker's fallback route, which has no fallback of its own. */
  readonly isFallback: boolean;
  /** The largest body the route takes; undefined: no limit. */
  maxBody: number | undefined = undefined;
  hasBody = false;
  /** What is streamed upstream: the request itself, or a stream counting a chunked body against maxBody. */
  body: Dispatcher.DispatchOptions['body'] = undefined;
  /** A chunked body went over maxBody while streaming: the failure is then the client's (413). */
  bodyOverLimit = false;
  /** The client left before its answer was complete. */
  clientGone = false;
  /** The upstream call under way, to stop when the client leaves. */
  call: UpstreamCall | undefined = undefined;

  constructor(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    match: Match,
    secure: boolean,
    cors: CorsGrant | undefined,
    isFallback = false,
  ) {
    this.req = req;
    this.res = res;
    this.match = match;
    this.route = match.route;
    this.secure = secure;
    this.cors = cors;
    this.isFallback = isFallback;
  }

  /** The response closed: a client that left before its answer was complete stops the upstream call too. */
  closed(): void {
    if (this.res.writableFinished) return;
    this.clientGone = true;
    this.call?.abort(CLIENT_GONE);
  }

  /** The same request, sent to the circuit breaker's fallback route instead. */
  toFallback(match: Match): Forwarding {
    return new Forwarding(this.req, this.res, match, this.secure, this.cors, true);
  }
}
