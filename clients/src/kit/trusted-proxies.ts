// Which peers may speak for someone else: a server behind a proxy takes the client's address (and protocol, host)
// from X-Forwarded-* only when the connection comes from one of these, since any other caller can write them.
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
