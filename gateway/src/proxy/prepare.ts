// Request preparation: the headers, path and body sent upstream, after the route's token check and request filters.
import type http from 'node:http';
import { Readable } from 'node:stream';
import type { AuthInfo } from '@trellis/clients/security';
import { GatewayError } from '../errors.ts';
import type { Exchange } from '../routing/exchange.ts';
import { normalizeRewrittenPath, PathRefusal } from '../routing/request-path.ts';
import type { Match } from '../routing/table.ts';
import type { Forwarding, ProxyDeps } from './forwarding.ts';
import { setForwardedPrefix, upstreamRequestHeaders } from './headers.ts';
import { checkToken } from './token.ts';

/**
 * Builds the exchange: the client's headers minus hop-by-hop ones, with the forwarding headers (the proxy secret and
 * the auth server's cookies are settled per attempt, in send.ts, on the upstream chosen),
 * then the token check, the request filters, and the rewritten path checked again. Answers at once when nothing has
 * to be waited for (a token verified before, filters that do not wait on I/O), else a promise: an async function
 * would make every proxied request pay for a promise and a turn of the microtask queue.
 */
export function prepareExchange(
  deps: ProxyDeps,
  req: http.IncomingMessage,
  match: Match,
  secure: boolean,
): Exchange | Promise<Exchange> {
  const { route, view, vars } = match;
  const exchange: Exchange = {
    request: view,
    routeId: route.id,
    vars,
    path: view.path,
    query: view.query,
    headers: upstreamRequestHeaders(req.headers, {
      remoteAddress: view.remoteAddress,
      proto: secure ? 'https' : 'http',
      port: req.socket.localPort ?? 0,
      trusted: deps.trusted.trusts(view.remoteAddress),
    }),
    responseHeaders: [],
    auth: undefined,
  };
  if (route.token !== undefined) {
    if (deps.verifier === undefined) throw new Error(`route ${route.id} checks tokens without a verifier`);
    const auth = checkToken(
      deps.verifier,
      req.headers.authorization,
      route.token.scopes,
      route.id,
      route.token.introspect ? deps.introspector : undefined,
    );
    if (auth instanceof Promise) return verifiedThenFiltered(exchange, auth, match);
    exchange.auth = auth;
  }
  if (route.awaitsFilters) return filteredAsync(exchange, match);
  for (const f of route.requestFilters) f.request?.(exchange);
  return filtered(exchange, match);
}

async function verifiedThenFiltered(exchange: Exchange, auth: Promise<AuthInfo>, match: Match): Promise<Exchange> {
  exchange.auth = await auth;
  if (match.route.awaitsFilters) return filteredAsync(exchange, match);
  for (const f of match.route.requestFilters) f.request?.(exchange);
  return filtered(exchange, match);
}

async function filteredAsync(exchange: Exchange, match: Match): Promise<Exchange> {
  for (const f of match.route.requestFilters) {
    if (f.requestAsync !== undefined) await f.requestAsync(exchange);
    else f.request?.(exchange);
  }
  return filtered(exchange, match);
}

/** The exchange once the request filters ran: a rewritten path checked again, and Host dropped unless preserved. */
function filtered(exchange: Exchange, { route, view }: Match): Exchange {
  if (exchange.path !== view.path) {
    // The predicates decided on the normal path: a rewrite must not bring back `..`, `//` or an encoded slash.
    try {
      exchange.path = normalizeRewrittenPath(exchange.path);
    } catch (err) {
      if (!(err instanceof PathRefusal)) throw err;
      throw new GatewayError(
        'bad_request',
        `the route's filters rewrote the path to one that is refused: ${err.message}`,
        {
          route: route.id,
        },
      );
    }
    setForwardedPrefix(exchange.headers, view.path, exchange.path);
  }
  // Set to undefined rather than deleted, which would make the map a slow dictionary; undici skips undefined.
  if (!route.features.preserveHost) exchange.headers.host = undefined;
  return exchange;
}

export function bodyTooLarge(fwd: Forwarding): GatewayError {
  return new GatewayError('payload_too_large', `the request body is over ${fwd.maxBody} bytes`, {
    route: fwd.route.id,
  });
}

/**
 * Sets what is streamed upstream: 413 at once for an announced length over the route's limit (RequestSize, else the
 * gateway's); a chunked body, which announces none, is counted while it streams and stopped at the limit.
 */
export function prepareBody(deps: ProxyDeps, fwd: Forwarding): void {
  const req = fwd.req;
  const raw = req.headers['content-length'];
  const length = raw === undefined ? 0 : Number(raw);
  const max = fwd.route.features.maxBodySize ?? deps.maxRequestSize;
  fwd.maxBody = max;
  if (max !== undefined && length > max) throw bodyTooLarge(fwd);
  const chunked = req.headers['transfer-encoding'] !== undefined;
  fwd.hasBody = length > 0 || chunked;
  if (chunked && max !== undefined) fwd.body = Readable.from(countedBody(fwd, max));
  else if (fwd.hasBody) fwd.body = req;
}

async function* countedBody(fwd: Forwarding, max: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of fwd.req as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) {
      fwd.bodyOverLimit = true;
      throw new Error('request body over the limit');
    }
    yield chunk;
  }
}
