import { describe, expect, it } from 'vitest';
import { parseTrustedProxies } from '../src/trusted-proxies.ts';

describe('parseTrustedProxies', () => {
  it('trusts single addresses and CIDR ranges of both families, IPv4 peers on dual-stack sockets included', () => {
    const proxies = parseTrustedProxies(['10.0.0.0/8', ' 192.168.1.5 ', '::1', 'fd00::/8']);
    expect(proxies.trusts('10.20.30.40')).toBe(true);
    expect(proxies.trusts('::ffff:10.20.30.40')).toBe(true);
    expect(proxies.trusts('192.168.1.5')).toBe(true);
    expect(proxies.trusts('::1')).toBe(true);
    expect(proxies.trusts('fd12::1')).toBe(true);
    expect(proxies.trusts('11.0.0.1')).toBe(false);
    expect(proxies.trusts('192.168.1.6')).toBe(false);
    expect(proxies.trusts('unknown')).toBe(false);
    expect(proxies.trusts(undefined)).toBe(false);
  });

  it('trusts nobody when the list is empty', () => {
    expect(parseTrustedProxies([]).trusts('127.0.0.1')).toBe(false);
  });

  it('names the entry that is not an address or has a bad prefix', () => {
    expect(() => parseTrustedProxies(['proxy.example'])).toThrow(/"proxy.example" is not an IP address/);
    expect(() => parseTrustedProxies(['10.0.0.0/33'])).toThrow(/"10.0.0.0\/33" has an invalid prefix length/);
    expect(() => parseTrustedProxies(['10.0.0.0/8/1'])).toThrow(TypeError);
    expect(() => parseTrustedProxies(['10.0.0.0/x'])).toThrow(TypeError);
  });
});
