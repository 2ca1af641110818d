import { BlockList, isIP } from 'node:net';
import type { Context } from 'hono';
import type { KitEnv } from '@trellis/clients';

/** Addresses allowed to set X-Forwarded-*: single IPs or CIDR ranges, IPv4 or IPv6. */
export interface TrustedProxies {
  trusts(address: string | undefined): boolean;
}

/** Parses `10.0.0.0/8, 127.0.0.1, ::1`; throws a TypeError naming the bad entry. */
export function parseTrustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const entry of entries) {
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
      return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

const first = (value: string | string[] | undefined): string | undefined =>
  (Array.isArray(value) ? value[0] : value)?.split(',')[0]?.trim() || undefined;

/**
 * The origin a client used to reach this server, as oidc-provider computes it for discovery: X-Forwarded-Proto and
 * X-Forwarded-Host count only when the peer is a trusted proxy.
 */
export function publicOrigin(c: Context<KitEnv>, proxies: TrustedProxies | undefined): string {
  const url = new URL(c.req.url);
  const env: Partial<KitEnv['Bindings']> | undefined = c.env;
  const incoming = env?.incoming;
  if (incoming === undefined || proxies === undefined || !proxies.trusts(incoming.socket.remoteAddress)) {
    return url.origin;
  }
  const proto = first(incoming.headers['x-forwarded-proto']) ?? url.protocol.slice(0, -1);
  const host = first(incoming.headers['x-forwarded-host']) ?? url.host;
  return URL.parse(`${proto}://${host}`)?.origin ?? url.origin;
}
