// How the live provider is mounted: requests pinned to the issuer's origin, and swapped on key rotation.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { Context } from 'hono';
import {
  carriesProxySecret,
  PROXY_SECRET_HEADER,
  setRequestRoute,
  type Interceptor,
  type KitEnv,
  type TrustedProxies,
} from '@trellis/kit';
import type Provider from 'oidc-provider';

/**
 * The largest request body the provider takes: oidc-provider's own limit (lib/shared/selective_body.js), which it
 * applies only to a body it reads itself; held here on every way in, so that a chunked body, which the app reads for
 * it, is not allowed more (the app's own limit is 1 MiB).
 */
export const PROVIDER_BODY_LIMIT = 56 * 1024;

/** The OAuth endpoints' answer to a body over the limit, whatever its framing. */
const BODY_TOO_LARGE = {
  error: 'invalid_request',
  error_description: `the request body is over ${PROVIDER_BODY_LIMIT} bytes, the most this endpoint takes`,
};

/** What a request may say about its origin; the provider is told the issuer's instead (see providerHandler). */
const ORIGIN_HEADERS = ['x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'];

/** Holds the live provider: key rotation builds a new one and swaps it in without dropping the listener. */
export interface ProviderHolder {
  readonly current: Provider | undefined;
  readonly callback: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
}

interface IssuerOrigin {
  provider?: Provider;
  proto: string;
  host: string;
}

/**
 * Makes `req` say it was sent to the configured issuer, whatever its Host, X-Forwarded-* headers or absolute-form
 * target say; the provider runs in proxy mode, so these are what it builds URLs from. X-Forwarded-For stays only from
 * a trusted proxy.
 * `last` caches the parsed issuer of the last provider seen (key rotation builds a new one).
 */
export function pinToIssuer(
  req: IncomingMessage,
  provider: Provider,
  proxies: TrustedProxies | undefined,
  last: IssuerOrigin = { proto: '', host: '' },
): void {
  if (last.provider !== provider) {
    const url = new URL(provider.issuer);
    Object.assign(last, { provider, proto: url.protocol.slice(0, -1), host: url.host });
  }
  for (const h of ORIGIN_HEADERS) delete req.headers[h];
  if (proxies === undefined || !proxies.trusts(req.socket.remoteAddress)) delete req.headers['x-forwarded-for'];
  req.headers['x-forwarded-proto'] = last.proto;
  req.headers['x-forwarded-host'] = last.host;
  // Koa takes an absolute-form target (`GET http://evil.example/…`) as the request's URL whole, host included: only
  // its path, as sent (dot segments kept, as an origin-form target keeps them), and query go on, so both forms reach
  // the same route or none.
  if (req.url !== undefined && !req.url.startsWith('/') && URL.canParse(req.url)) {
    req.url = `${sentPath(req.url) || '/'}${new URL(req.url).search}`;
  }
}

/**
 * Before anything reads the source address (throttles, pinToIssuer): with a proxy secret set, X-Forwarded-For from a
 * request without it is dropped, so a trusted address alone (loopback: any local process) cannot claim a source; the
 * throttles then key on the socket's peer. The secret header itself never goes further (provider, logs).
 */
export function screenForwardedFor(req: IncomingMessage, secret: string | undefined): void {
  if (secret !== undefined && !carriesProxySecret(req.headers, secret)) delete req.headers['x-forwarded-for'];
  delete req.headers[PROXY_SECRET_HEADER];
}

/**
 * The token endpoint's requests (`POST` at exactly `path`, not chunked, at most 56 KiB) handed to the provider on
 * the node request, before hono: the busiest route of the server pays neither hono's request objects nor its
 * middleware, none of which does anything for it (the page headers are for HTML, the interaction cap for
 * authorization requests). What every request to the provider gets still happens here: the proxy secret screen, the
 * pin to the issuer, the request id, the route for metrics and spans, the request line. Anything else (another
 * method, a query, a chunked or larger body, no provider yet) goes on to the app, which answers it as before.
 */
export function tokenEndpointInterceptor(
  holder: ProviderHolder,
  path: string,
  proxies: TrustedProxies | undefined,
  proxySecret: string | undefined,
): Interceptor {
  const origin: IssuerOrigin = { proto: '', host: '' };
  return (req, res, kit) => {
    const { callback, current } = holder;
    if (req.method !== 'POST' || req.url !== path || req.headers['transfer-encoding'] !== undefined) return false;
    if (Number(req.headers['content-length'] ?? 0) > PROVIDER_BODY_LIMIT) return false;
    if (callback === undefined || current === undefined) return false;
    const started = performance.now();
    res.setHeader('x-request-id', kit.requestId(req));
    screenForwardedFor(req, proxySecret);
    pinToIssuer(req, current, proxies, origin);
    setRequestRoute(req, path);
    callback(req, res).then(
      () => kit.logCompleted(req, res.statusCode, started),
      (err: unknown) => {
        // Koa answers its own errors; this is only for a failure of that answer.
        kit.log.error({ err, reqId: kit.requestId(req) }, 'request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(res.headersSent ? undefined : '{"error":"server_error"}');
      },
    );
    return true;
  };
}

/**
 * Hands a request to oidc-provider (a Koa app) on the raw Node request and response. Koa must read the body itself,
 * so hono's body is only touched when the kit's body limit already started reading a chunked body; the provider then
 * takes the text from `req.body`.
 *
 * Every URL the provider writes (discovery, endpoints, redirects, device verification URIs) comes from the request's
 * scheme and host, which a caller chooses: `Host: evil.example` would publish a token endpoint on evil.example. The
 * provider runs in proxy mode and is always told the configured issuer's scheme and host instead, whatever the
 * request says. X-Forwarded-For is kept only from a trusted proxy (throttling reads the source from it).
 */
export function providerHandler(holder: ProviderHolder, proxies: TrustedProxies | undefined) {
  const origin: IssuerOrigin = { proto: '', host: '' };
  return async (c: Context<KitEnv>): Promise<Response> => {
    const env: Partial<KitEnv['Bindings']> | undefined = c.env;
    const callback = holder.callback;
    if (env?.incoming === undefined || env.outgoing === undefined || callback === undefined) {
      return c.json({ error: 'temporarily_unavailable', error_description: 'the provider is not ready' }, 503);
    }
    const req = env.incoming;
    const provider = holder.current;
    if (provider !== undefined) pinToIssuer(req, provider, proxies, origin);
    if (Number(req.headers['content-length'] ?? 0) > PROVIDER_BODY_LIMIT) return c.json(BODY_TOO_LARGE, 413);
    if (req.headers['transfer-encoding'] !== undefined && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const body = await c.req.text();
      if (Buffer.byteLength(body) > PROVIDER_BODY_LIMIT) return c.json(BODY_TOO_LARGE, 413);
      (req as IncomingMessage & { body?: string }).body = body;
    }
    await callback(req, env.outgoing);
    return RESPONSE_ALREADY_SENT;
  };
}

/** The path of a request target as sent, dot segments and percent-encodings kept; an absolute-form target's too. */
function sentPath(target: string): string {
  const path = target.startsWith('/') ? target : (/^[a-z][a-z\d+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(target)?.[1] ?? '');
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}
