// The headers sent upstream and back: hop-by-hop ones dropped, forwarding headers set from what the gateway saw.

// RFC 9110 §7.6.1: hop-by-hop headers describe one connection and must not be forwarded, nor the headers that
// `Connection` names. Proxy-* are for this hop's proxy (us), never for the upstream or the client.
import type { IncomingHttpHeaders } from 'node:http';
import { PROXY_SECRET_HEADER } from '@trellis/kit';
import type { HeaderMap } from '../routing/exchange.ts';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The header names `Connection` lists, or undefined for the usual `keep-alive`/`close`/none. */
function connectionNamed(connection: string | string[] | undefined): Set<string> | undefined {
  // The usual values, without splitting a string per request.
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return undefined;
  let named: Set<string> | undefined;
  for (const name of String(connection).split(',')) {
    const n = name.trim().toLowerCase();
    // `Connection: host` must not strip the Host header the upstream needs.
    if (n !== '' && n !== 'host' && !HOP_BY_HOP.has(n)) (named ??= new Set()).add(n);
  }
  return named;
}

/**
 * Headers a proxy (or CDN) sets about the client it relays; from a peer that is not a trusted proxy they are forged.
 * Beyond X-Forwarded-* (For, Host, Proto, Port, Prefix, Server, Ssl, Scheme, all caught by the prefix):
 * - the client's address as frameworks and libraries read it: Client-IP and X-Client-IP (PHP's HTTP_CLIENT_IP),
 *   X-Real-IP (nginx), True-Client-IP (Akamai), CF-Connecting-IP, Fastly-Client-IP, X-Cluster-Client-IP,
 *   X-ProxyUser-Ip (Google), X-Originating-IP, X-Remote-IP/-Addr, and X-Forwarded and Forwarded-For (the older
 *   spellings that IP-lookup libraries still try);
 * - the host links are built from: X-Host, X-Original-Host, X-HTTP-Host-Override;
 * - the scheme, which turns `secure` cookies and redirects to https: Front-End-Https (IIS/OWA), X-Url-Scheme;
 * - the URL IIS, Symfony and Laravel take over the request line from: X-Original-URL/-URI, X-Rewrite-URL, and the
 *   mount prefix WSGI apps (werkzeug's ProxyFix, gunicorn) take from X-Script-Name;
 * - Cloudflare's scheme claim, CF-Visitor ({"scheme":"https"}).
 * And, by prefix (FORWARDING_PREFIXES), whole families one proxy product sets and the apps behind it believe: every
 * x-envoy-* (Envoy trusts them all from an internal peer: client address, original path, timeouts, retries),
 * X-Original-Forwarded-* (ingress-nginx's copy of what came in), X-Azure-* (ClientIP, SocketIP, and the FDID that
 * Front Door access rules check), X-AppEngine-* (User-IP, and Cron/QueueName that apps take as proof of origin).
 * Via stays: it is the chain every proxy appends to for loop detection (dropping it could let two proxies loop a
 * request), and no framework takes an address, host or scheme from it.
 */
const FORWARDING = new Set([
  'forwarded',
  'x-forwarded',
  'forwarded-for',
  'x-real-ip',
  'client-ip',
  'x-client-ip',
  'true-client-ip',
  'cf-connecting-ip',
  'fastly-client-ip',
  'x-cluster-client-ip',
  'x-proxyuser-ip',
  'x-originating-ip',
  'x-remote-ip',
  'x-remote-addr',
  'x-host',
  'x-original-host',
  'x-http-host-override',
  'front-end-https',
  'x-url-scheme',
  'x-original-url',
  'x-original-uri',
  'x-rewrite-url',
  'x-script-name',
  'cf-visitor',
]);

const FORWARDING_PREFIXES = ['x-forwarded-', 'x-original-forwarded-', 'x-envoy-', 'x-azure-', 'x-appengine-'];

function isForwarding(name: string): boolean {
  if (FORWARDING.has(name)) return true;
  // Every prefix starts with `x-`; a loop rather than some(), whose closure was allocated per header.
  if (name.startsWith('x-')) {
    for (const prefix of FORWARDING_PREFIXES) if (name.startsWith(prefix)) return true;
  }
  // CGI-style upstreams (PHP, WSGI, Rack) read X_Forwarded_For and X-Forwarded-For as the same HTTP_X_FORWARDED_FOR.
  return name.includes('_') && isForwarding(name.replace(/_/g, '-'));
}

/**
 * A copy without hop-by-hop headers (and, for an untrusted peer, without its forwarding headers), built by adding
 * what passes rather than spreading and deleting: `delete` turns the object into a slow dictionary, and this runs
 * twice per proxied request.
 */
function withoutHopByHop(headers: Readonly<HeaderMap>, skip?: string, dropForwarding = false): HeaderMap {
  const named = connectionNamed(headers.connection);
  const out: HeaderMap = {};
  for (const name in headers) {
    // The proxy secret proves a request came through this gateway: no client (nor proxy in front) may bring one.
    if (
      HOP_BY_HOP.has(name) ||
      name === skip ||
      name === PROXY_SECRET_HEADER ||
      name.startsWith('proxy-') ||
      named?.has(name) === true
    )
      continue;
    if (dropForwarding && isForwarding(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

export interface ForwardedFacts {
  readonly remoteAddress: string;
  readonly proto: 'http' | 'https';
  readonly port: number;
  /** Whether the peer is a trusted proxy (--trusted-proxies), whose forwarding headers are kept and appended to. */
  readonly trusted: boolean;
}

/**
 * The headers sent upstream: the client's minus hop-by-hop ones, with X-Forwarded-For/Proto/Host/Port from what the
 * gateway saw itself. A trusted proxy's values are appended to (Spring's XForwardedHeadersFilter with append on); any
 * other peer's X-Forwarded-*, Forwarded, X-Real-IP and the rest of FORWARDING are dropped, since upstreams (the auth server building its
 * issuer URLs, services logging client addresses) take the first value as the truth. `expect` is dropped too: node
 * answered the client's 100-continue already, and the upstream gets the whole body anyway.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, facts: ForwardedFacts): HeaderMap {
  const out = withoutHopByHop(incoming, 'expect', !facts.trusted);
  append(out, 'x-forwarded-for', facts.remoteAddress);
  append(out, 'x-forwarded-proto', facts.proto);
  if (incoming.host !== undefined) append(out, 'x-forwarded-host', incoming.host);
  append(out, 'x-forwarded-port', String(facts.port));
  return out;
}

/**
 * X-Forwarded-Prefix, as Spring sets it: when a filter removed the start of the path (StripPrefix, RewritePath), the
 * removed part, so the upstream can build links that go back through the gateway.
 */
export function setForwardedPrefix(headers: HeaderMap, original: string, forwarded: string): void {
  if (original === forwarded) return;
  const from = original.length > 1 && original.endsWith('/') ? original.slice(0, -1) : original;
  const to = forwarded.length > 1 && forwarded.endsWith('/') ? forwarded.slice(0, -1) : forwarded;
  // Down to the root (StripPrefix of the whole path, SetPath=/): all of the original path was a prefix.
  const prefix = to === '/' ? from : from.endsWith(to) ? from.slice(0, from.length - to.length) : '';
  if (prefix !== '' && prefix !== '/') append(headers, 'x-forwarded-prefix', prefix);
}

function append(out: HeaderMap, name: string, value: string): void {
  const current = out[name];
  out[name] = current === undefined || current === '' ? value : `${String(current)}, ${value}`;
}

/** The upstream's response headers minus hop-by-hop ones; node sets its own framing for the client. */
export function clientResponseHeaders(upstream: Readonly<HeaderMap>): HeaderMap {
  return withoutHopByHop(upstream);
}

/** Node reports IPv4 peers on a dual-stack socket as `::ffff:1.2.3.4`; predicates and headers want `1.2.3.4`. */
export function peerAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
