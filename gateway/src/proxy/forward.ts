// The proxy: node:http in, undici Pool out, composed of the named steps beside it (see createProxy).

// Bodies are streamed both ways (never buffered, never through WHATWG fetch, which measured ~0.1 of direct). Route
// matching, token check and filters run before the upstream call; the response head passes through the response
// filters; body chunks go straight from undici's handler to the client response (call.ts), and an upstream that dies
// mid-body takes the client connection with it so a truncated body is never passed off as complete.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import {
  context,
  fromInternalCaller,
  parseTrustedProxies,
  ROOT_CONTEXT,
  setRequestException,
  setRequestRoute,
  trace,
  type Logger,
  type Observability,
  type Span,
} from '@trellis/kit';
import type { InstanceSource, RoundRobin } from '@trellis/clients/discovery';
import type { TokenIntrospector, TokenVerifier } from '@trellis/clients/security';
import { GatewayError } from '../errors.ts';
import { withQuery } from '../routing/request-path.ts';
import type { Route, RouteTable } from '../routing/table.ts';
import { AuthServerUpstreams } from './auth-server.ts';
import { crossOrigin, PREFLIGHT_ANSWERED } from './cross-origin.ts';
import { CLIENT_GONE, Forwarding, type ProxyDeps } from './forwarding.ts';
import { InFlightLimit } from './in-flight.ts';
import { GatewayMeters, routeUriTag, startUpstreamSpan, tracedHeaders } from './observe.ts';
import { prepareBody, prepareExchange } from './prepare.ts';
import { continueIfExpected, sendFailure, writeFailure, writeResponse } from './respond.ts';
import { screenRequest } from './screen.ts';
import { send, type Answer } from './send.ts';
import { chooseTarget, fallbackForwarding, matchRoute, noRoute } from './target.ts';
import type { Upstreams } from './upstreams.ts';
import { pipeUpgrade, writeRawError } from './websocket.ts';

export interface ProxyOptions {
  /** The current route table; read once per request, so a swap never affects a request under way. */
  readonly table: () => RouteTable;
  readonly upstreams: Upstreams;
  readonly discovery: InstanceSource | undefined;
  readonly balancer: RoundRobin;
  readonly verifier: TokenVerifier | undefined;
  /** For routes with TokenCheck's `introspect: true`; undefined when no introspection client is configured. */
  readonly introspector?: TokenIntrospector | undefined;
  readonly logger: Logger;
  /** Default time to wait for an upstream's response head; a route's `response-timeout` metadata overrides it. */
  readonly responseTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Bodies over this many bytes get 413 unless the route's RequestSize says otherwise; undefined: no limit. */
  readonly maxRequestSize?: number | undefined;
  /** IP addresses and CIDR blocks whose X-Forwarded-* and Forwarded headers are kept (see headers.ts). */
  readonly trustedProxies?: readonly string[];
  /** Sent in x-trellis-proxy-secret (the auth server's AUTH_TRUSTED_PROXY_SECRET) to authServerUpstreams only. */
  readonly proxySecret?: string | undefined;
  /** Origins of the auth server's upstreams, the only ones given the proxy secret and its cookies (auth-server.ts). */
  readonly authServerUpstreams?: readonly string[];
  /**
   * Proxied requests one source (addressKey of the client address, through trusted proxies) may have in flight at
   * once; past it 429. undefined: no cap.
   */
  readonly maxInFlightPerClient?: number | undefined;
  /**
   * Serves requests whose normal path starts with `/actuator/` (the kit's hono app), after the same screening as
   * proxied ones; `req.url` is set to the normal path first.
   */
  readonly actuator?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Further normal paths `actuator` serves (the API document, Swagger UI; see ownPaths); default none. */
  readonly ownPath?: (path: string) => boolean;
  readonly now?: () => number;
  /** The service's meters and tracer (service.observability); either may be off. */
  readonly observability?: Observability;
}

export interface Proxy {
  /** Serves one request at the node level. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Serves an `Upgrade` request (WebSocket) by piping the two sockets once the upstream accepts. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
}

const ACTUATOR = '/actuator/';

/**
 * The proxy, as oidc-provider builds an endpoint: each request passes named steps, which take their state as
 * arguments (ProxyDeps, resolved here once, and a Forwarding per matched request) rather than from closures.
 *
 *   screen → actuator? → in-flight cap → match → CORS → prepare (exchange, body) → send (retry, breaker) → respond
 */
export function createProxy(options: ProxyOptions): Proxy {
  const trusted = parseTrustedProxies(options.trustedProxies ?? []);
  const deps: ProxyDeps = {
    table: options.table,
    upstreams: options.upstreams,
    discovery: options.discovery,
    balancer: options.balancer,
    verifier: options.verifier,
    introspector: options.introspector,
    log: options.logger,
    now: options.now ?? Date.now,
    trusted,
    responseTimeoutMs: options.responseTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs,
    maxRequestSize: options.maxRequestSize,
    authServer: new AuthServerUpstreams({
      origins: options.authServerUpstreams ?? [],
      proxySecret: options.proxySecret,
    }),
    inFlight:
      options.maxInFlightPerClient === undefined ? undefined : new InFlightLimit(options.maxInFlightPerClient, trusted),
    actuator: options.actuator,
    ownPath: options.ownPath ?? (() => false),
    meters:
      options.observability?.metrics === undefined
        ? undefined
        : new GatewayMeters(options.observability.metrics, options.table),
    tracing: options.observability?.tracing,
  };
  return {
    handle(req, res) {
      serve(deps, req, res).catch((err: unknown) => {
        noteFailure(deps, req, err);
        writeFailure(deps.log, res, err);
      });
    },
    upgrade(req, socket, head) {
      serveUpgrade(deps, req, socket, head).catch((err: unknown) => {
        const ge = err instanceof GatewayError ? err : new GatewayError('bad_gateway', 'the upgrade failed');
        if (!(err instanceof GatewayError)) deps.log.error({ err }, 'upgrade failed');
        writeRawError(socket, ge);
      });
    },
  };
}

/** A failed request's part in the meters: a RequestRateLimiter refusal, the exception tag of a 5xx. */
function noteFailure(deps: ProxyDeps, req: http.IncomingMessage, err: unknown): void {
  if (!(err instanceof GatewayError)) {
    setRequestException(req, err);
    return;
  }
  // The in-flight cap's 429 names no route: only the route's limiter counts as its refusal.
  if (err.code === 'too_many_requests' && err.route !== undefined) deps.meters?.rateLimitRefusal(err.route);
  if (err.status >= 500 && err.cause !== undefined) setRequestException(req, err.cause);
}

/** Whether the request came in over TLS (the gateway's HTTPS port). */
function isSecure(req: http.IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true;
}

/**
 * What a proxied request's close settles, in one listener rather than one per concern (each `once` allocates a
 * wrapper and grows the response's listener array): the in-flight slot, the gateway's meter, and the forwarding
 * under way (the fallback's, once the circuit breaker's fallback took over), told when the client leaves.
 */
class RequestEnd {
  inFlightKey: string | undefined = undefined;
  route: Route | undefined = undefined;
  fwd: Forwarding | undefined = undefined;
}

/** One request, from its arrival to the matched route's forwarding (or the gateway's own answer). */
async function serve(deps: ProxyDeps, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const started = deps.meters === undefined ? 0 : performance.now();
  const target = screenRequest(req);
  if (deps.actuator !== undefined && (target.path.startsWith(ACTUATOR) || deps.ownPath(target.path))) {
    req.url = withQuery(target.path, target.query);
    continueIfExpected(req, res);
    deps.actuator(req, res);
    return;
  }
  const end = new RequestEnd();
  const inFlight = deps.inFlight;
  if (inFlight !== undefined) end.inFlightKey = inFlight.admit(req);
  const meters = deps.meters;
  res.once('close', () => {
    if (end.inFlightKey !== undefined) inFlight?.release(end.inFlightKey);
    if (meters !== undefined && end.route !== undefined) {
      const status = res.headersSent ? res.statusCode : 0;
      meters.request(end.route, req.method ?? 'GET', status, (performance.now() - started) / 1000);
    }
    end.fwd?.closed();
  });
  const secure = isSecure(req);
  const table = deps.table();
  const match = matchRoute(deps, table, req, target);
  const cors = crossOrigin(req, res, secure, table, match, target.path);
  if (cors === PREFLIGHT_ANSWERED) return;
  if (match === undefined) throw noRoute(req, target.path);
  // The kit's http_server_requests_seconds names a proxied request by its route id; an unmatched one stays NOT_FOUND.
  setRequestRoute(req, match.route.id);
  end.route = match.route;
  await forward(deps, new Forwarding(req, res, match, secure, cors), end);
}

/** A matched request: prepared, sent, and answered with the upstream's response or the fallback route's. */
async function forward(deps: ProxyDeps, fwd: Forwarding, end: RequestEnd): Promise<void> {
  const prepared = prepareExchange(deps, fwd.req, fwd.match, fwd.secure);
  // Most routes prepare without waiting (a token verified before, no rate limiter in Redis): no await then.
  const exchange = prepared instanceof Promise ? await prepared : prepared;
  prepareBody(deps, fwd);
  // main.ts holds node's automatic 100 Continue back (checkContinue): only a request that passed the route's checks
  // and size limit asks the client for its body.
  if (fwd.hasBody && !fwd.isFallback) continueIfExpected(fwd.req, fwd.res);
  // Kept for the whole exchange: a client that leaves mid-body stops the upstream call too.
  end.fwd = fwd;
  let upstream: Answer;
  try {
    upstream = await send(deps, fwd, exchange);
  } catch (err) {
    // The client went away before the answer came: nobody is left to tell, and it is not the upstream's fault.
    if (fwd.clientGone) return;
    const fallback = fwd.route.features.circuitBreaker?.fallbackPath;
    if (fallback === undefined || fwd.isFallback || fwd.bodyOverLimit) {
      throw sendFailure(fwd, err, deps.responseTimeoutMs);
    }
    await forward(deps, fallbackForwarding(deps, fwd, fallback), end);
    return;
  }
  if (fwd.res.destroyed) {
    upstream.call.abort(CLIENT_GONE);
    return;
  }
  writeResponse(fwd, exchange, upstream);
}

/** An `Upgrade` request: prepared as any other, then the two sockets piped once the upstream accepts. */
async function serveUpgrade(deps: ProxyDeps, req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const secure = isSecure(req);
  const requested = screenRequest(req);
  const match = matchRoute(deps, deps.table(), req, requested);
  if (match === undefined) throw noRoute(req, requested.path);
  setRequestRoute(req, match.route.id);
  const exchange = await prepareExchange(deps, req, match, secure);
  const target = chooseTarget(deps, match.route, undefined, new Set());
  let headers = deps.authServer.headersFor(target, exchange.headers);
  let span: Span | undefined;
  const tracing = deps.tracing;
  if (tracing !== undefined) {
    // Upgrades are not inside a server span of the kit's: the handshake's client span continues the caller's trace,
    // on the same terms as the server spans (a caller outside the network starts a new one).
    const active = context.active();
    const parent =
      trace.getSpan(active) !== undefined
        ? active
        : fromInternalCaller(req, deps.trusted)
          ? tracing.extract(req.headers)
          : ROOT_CONTEXT;
    const method = req.method ?? 'GET';
    const started = startUpstreamSpan(
      tracing,
      method,
      match.route.id,
      routeUriTag(match.route),
      target,
      exchange.path,
      parent,
    );
    span = started.span;
    headers = tracedHeaders(tracing, headers, started.ctx);
  }
  pipeUpgrade({
    req,
    socket,
    head,
    target,
    path: withQuery(exchange.path, exchange.query),
    headers,
    span,
    connectTimeoutMs: match.route.connectTimeoutMs ?? deps.connectTimeoutMs,
    routeId: match.route.id,
    logger: deps.log,
  });
}
