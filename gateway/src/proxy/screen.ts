// The screen every request passes before routing (proxied, WebSocket or actuator).

// A method the gateway forwards, one well-formed Host, unambiguous framing, and a request target reduced to the normal
// path the upstream will receive. Node's parser already refuses malformed request lines, control characters in the
// target, duplicate Content-Length and oversized heads (main.ts answers those in `clientError`).
import type http from 'node:http';
import { GatewayError } from '../errors.ts';
import { normalizePath, PathRefusal } from '../routing/request-path.ts';

/** The request target as the gateway decides on it and forwards it. */
export interface RequestTarget {
  /** The normal path (RFC 3986), without the query. */
  readonly path: string;
  /** The query string without `?`, as the client sent it. */
  readonly query: string;
}

/** What a 405 names as allowed: every method but TRACE/TRACK (they echo credentials back) and CONNECT. */
export const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';

/**
 * The last Host that passed the checks below: nearly every request names the same one, and the URL parser is a call
 * into C++ per request.
 */
let lastGoodHost = '';

/** host, IPv4 or [IPv6], then an optional port: anything else would be passed on in X-Forwarded-Host. */
const HOST = /^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function methodNotAllowed(method: string): GatewayError {
  return new GatewayError('method_not_allowed', `the gateway does not forward ${method} requests`, {
    headers: { allow: ALLOWED_METHODS },
  });
}

/** `http://authority` then the rest of an absolute-form target (RFC 9112 §3.2.2); schemes and hosts are case-blind. */
const ABSOLUTE = /^https?:\/\/([^/?#]*)(.*)$/is;

/**
 * The origin form (`/path?query`) of a request target. RFC 9112 §3.2.2 has servers accept the absolute form
 * (`http://host/path`, what a client configured to use a proxy sends): it is routed on its path, normalized like any
 * other, when its authority is the Host header (which the RFC has clients send equal to it), and refused otherwise,
 * since the upstream and the predicates would then each believe a different host. `*` and other forms are refused.
 */
function originForm(url: string, host: string | undefined): string {
  if (url.startsWith('/')) return url;
  const absolute = ABSOLUTE.exec(url);
  if (absolute === null) {
    throw new GatewayError(
      'bad_request',
      'the request target must be a path or an absolute http(s) URL (* and authority forms are refused)',
    );
  }
  const [, authority = '', rest = ''] = absolute;
  if (authority.includes('@')) throw new GatewayError('bad_request', 'the request target has user info (user@host)');
  if (host === undefined || authority.toLowerCase() !== host.toLowerCase()) {
    throw new GatewayError(
      'bad_request',
      'the host of an absolute-form request target (http://host/path) must be the Host header',
    );
  }
  if (rest === '' || rest.startsWith('?')) return `/${rest}`;
  if (!rest.startsWith('/')) throw new GatewayError('bad_request', 'the request target has a fragment (#)');
  return rest;
}

/** What any spelling of `_method` in a query has: the word itself, or a percent-encoded part. */
const MAY_OVERRIDE = /method|%/i;

/**
 * The name of a query parameter as a framework reads it: percent-decoded (`+` as a space; malformed escapes left, as
 * qs does), lower-cased, and, as PHP names `$_GET` keys, leading spaces dropped and spaces and dots read as `_`.
 */
function parameterName(pair: string): string {
  const eq = pair.indexOf('=');
  let name = (eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' ');
  try {
    name = decodeURIComponent(name);
  } catch {
    // Left as sent, which is what the upstream's parser does with it too.
  }
  return name.trimStart().toLowerCase().replace(/[ .]/g, '_');
}

/**
 * Whether the query carries `_method` (Express's method-override, Rails' and Laravel's form convention), or
 * `_method[...]`: the same override the method-override headers are refused for.
 */
function overridesMethod(query: string): boolean {
  if (query === '' || !MAY_OVERRIDE.test(query)) return false;
  for (const pair of query.split(/[&;]/)) {
    const name = parameterName(pair);
    if (name === '_method' || name.startsWith('_method[')) return true;
  }
  return false;
}

/** Throws a GatewayError (400 or 405) with the reason, or returns the target to route on. */
export function screenRequest(req: http.IncomingMessage): RequestTarget {
  const method = req.method ?? 'GET';
  // TRACE reflects the request, cookies and Authorization included, back to a script that could not read them.
  if (method === 'TRACE' || method === 'TRACK' || method === 'CONNECT') throw methodNotAllowed(method);
  let hosts = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  // Node keeps the first Host and drops the rest; an upstream or a cache in between may take the other one.
  if (hosts > 1) throw new GatewayError('bad_request', 'the request has more than one Host header');
  const host = req.headers.host;
  if (host === undefined) {
    if (req.httpVersion === '1.1') throw new GatewayError('bad_request', 'an HTTP/1.1 request needs a Host header');
  } else if (host !== lastGoodHost) {
    if (!HOST.test(host) || !URL.canParse(`http://${host}`)) {
      // The second test is the URL parser's own: a port past 65535 or an IPv4 address like 999.1.1.1 has the shape but
      // would be an empty 400 from the app and a meaningless X-Forwarded-Host upstream.
      throw new GatewayError('bad_request', 'the Host header is not a host name or address with an optional port');
    }
    lastGoodHost = host;
  }
  // Frameworks that honour these would serve a DELETE the Method predicates and token scopes judged as a GET or POST.
  const headers = req.headers;
  if (
    headers['x-http-method-override'] !== undefined ||
    headers['x-http-method'] !== undefined ||
    headers['x-method-override'] !== undefined
  ) {
    throw new GatewayError(
      'bad_request',
      'method override headers (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) are refused: send the method itself',
    );
  }
  if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] !== undefined) {
    // RFC 9112 §6.3: a message with both is a smuggling attempt; node's parser refuses it too, this is the backstop.
    throw new GatewayError('bad_request', 'a request must not carry both Content-Length and Transfer-Encoding');
  }
  const url = originForm(req.url ?? '/', host);
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  if (query.includes('#')) throw new GatewayError('bad_request', 'the request target has a fragment (#)');
  if (overridesMethod(query)) {
    throw new GatewayError(
      'bad_request',
      'the _method query parameter (a method override) is refused: send the method itself',
    );
  }
  try {
    return { path: normalizePath(rawPath), query };
  } catch (err) {
    if (err instanceof PathRefusal) throw new GatewayError('bad_request', err.message);
    throw err;
  }
}
