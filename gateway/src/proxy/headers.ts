// RFC 9110 §7.6.1: hop-by-hop headers describe one connection and must not be forwarded, nor the headers that
// `Connection` names. Proxy-* are for this hop's proxy (us), never for the upstream or the client.
import type { IncomingHttpHeaders } from 'node:http';
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
 * A copy without hop-by-hop headers, built by adding what passes rather than spreading and deleting: `delete` turns
 * the object into a slow dictionary, and this runs twice per proxied request.
 */
function withoutHopByHop(headers: Readonly<HeaderMap>, skip?: string): HeaderMap {
  const named = connectionNamed(headers.connection);
  const out: HeaderMap = {};
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || name === skip || name.startsWith('proxy-') || named?.has(name) === true) continue;
    out[name] = headers[name];
  }
  return out;
}

export interface ForwardedFacts {
  readonly remoteAddress: string;
  readonly proto: 'http' | 'https';
  readonly port: number;
}

/**
 * The headers sent upstream: the client's minus hop-by-hop ones, with X-Forwarded-For/Proto/Host/Port appended to
 * what earlier proxies set (Spring's XForwardedHeadersFilter with append on). `expect` is dropped too: node answered
 * the client's 100-continue already, and the upstream gets the whole body anyway.
 */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, facts: ForwardedFacts): HeaderMap {
  const out = withoutHopByHop(incoming, 'expect');
  append(out, 'x-forwarded-for', facts.remoteAddress);
  append(out, 'x-forwarded-proto', facts.proto);
  if (incoming.host !== undefined) append(out, 'x-forwarded-host', incoming.host);
  append(out, 'x-forwarded-port', String(facts.port));
  return out;
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
