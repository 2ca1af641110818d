// Which peers may speak for someone else: a server behind a proxy takes the client's address (and protocol, host)
// from X-Forwarded-* only when the connection comes from one of these, since any other caller can write them.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Addresses allowed to set X-Forwarded-*: single IPs or CIDR ranges, IPv4 or IPv6. */
export interface TrustedProxies {
  trusts(address: string | undefined): boolean;
}

const NOBODY: TrustedProxies = { trusts: () => false };

/**
 * Parses `10.0.0.0/8, 127.0.0.1, ::1` (entries already split); throws a TypeError naming the bad entry, for the
 * caller to turn into its settings error.
 *
 * @example
 * parseTrustedProxies(['10.0.0.0/8', '::1']).trusts('10.1.2.3'); // true
 */
export function parseTrustedProxies(entries: readonly string[]): TrustedProxies {
  if (entries.length === 0) return NOBODY;
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    const [address, bits, extra] = entry.split('/');
    const family = address === undefined ? 0 : isIP(address);
    if (family === 0 || extra !== undefined || address === undefined) {
      throw new TypeError(`${JSON.stringify(entry)} is not an IP address or CIDR range`);
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) {
      list.addAddress(address, type);
    } else {
      const prefix = Number(bits);
      if (!/^\d+$/.test(bits) || prefix > (family === 4 ? 32 : 128)) {
        throw new TypeError(`${JSON.stringify(entry)} has an invalid prefix length`);
      }
      list.addSubnet(address, prefix, type);
    }
  }
  return {
    trusts(address) {
      if (address === undefined) return false;
      // An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
      const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
      if (v4 !== undefined) return list.check(v4, 'ipv4');
      const family = isIP(address);
      return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** `::ffff:a.b.c.d` (an IPv4 peer on a dual-stack socket) as `a.b.c.d`; other addresses unchanged. */
function plainAddress(address: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;
}

/**
 * The address a request came from, as seen through trusted proxies only: the socket's peer, or, when that peer is a
 * trusted proxy, the nearest X-Forwarded-For hop that is not one (walking from the right, since each proxy appends
 * the address it saw and anything left of the first untrusted hop was written by the client). Answers `unknown`
 * when the socket is already closed.
 */
export function sourceAddress(
  req: { readonly socket: { readonly remoteAddress?: string | undefined }; readonly headers: IncomingHttpHeaders },
  proxies: TrustedProxies | undefined,
): string {
  let address = req.socket.remoteAddress;
  if (address === undefined) return 'unknown';
  if (proxies === undefined || !proxies.trusts(address)) return plainAddress(address);
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    // A hop that is not an address (a proxy writing `unknown`, garbage) ends the trusted chain: the proxy that wrote
    // it is the last one whose word counts.
    if (isIP(hop) === 0) break;
    address = hop;
    if (!proxies.trusts(hop)) break;
  }
  return plainAddress(address);
}

/**
 * The part of an address that one party controls, as a throttle key: an IPv4 address, or an IPv6 /64 (the smallest
 * block a site is given, so rotating addresses inside one's own /64 gives no fresh keys).
 */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * The header a proxy that shares a secret with its upstream (the gateway, `trellis up`) proves itself with. An address
 * alone cannot tell the gateway from any other process on the same host; the secret can.
 */
export const PROXY_SECRET_HEADER = 'x-trellis-proxy-secret';

/**
 * Whether the request carries `secret` in PROXY_SECRET_HEADER, compared in constant time (digests, so the length of
 * the secret does not leak either). A repeated header never proves anything.
 */
export function carriesProxySecret(headers: IncomingHttpHeaders, secret: string): boolean {
  const presented = headers[PROXY_SECRET_HEADER];
  if (typeof presented !== 'string') return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

/** Loopback and the private ranges (RFC 1918, IPv6 unique local): the addresses of a deployment's own network. */
const INTERNAL = parseTrustedProxies([
  '127.0.0.0/8',
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '::1',
  'fc00::/7',
]);

/**
 * Whether an address is inside the deployment's own network (loopback or private), as an edge proxy such as Envoy
 * decides whether a caller's tracing and request-id headers are kept or replaced.
 */
export function isInternalAddress(address: string): boolean {
  return INTERNAL.trusts(address);
}

/**
 * Whether a request's caller is inside the deployment's network: its address as seen through `proxies` (see
 * sourceAddress) is loopback or private. An edge continues such callers' trace headers and replaces the others'.
 */
export function fromInternalCaller(
  req: { readonly socket: { readonly remoteAddress?: string | undefined }; readonly headers: IncomingHttpHeaders },
  proxies: TrustedProxies | undefined,
): boolean {
  return isInternalAddress(sourceAddress(req, proxies));
}
