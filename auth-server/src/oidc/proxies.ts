// The address a request came from, for the failure throttles: through trusted proxies only (the kit's
// parseTrustedProxies decides who is one), and reduced to the part one party controls.
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TrustedProxies } from '@trellis/clients';

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
export function sourceAddress(req: IncomingMessage, proxies: TrustedProxies | undefined): string {
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
