// The names a server certificate must cover: DNS names and IP addresses, normalized and checked.
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { TlsError } from './errors.ts';

/** The names a server certificate must cover, split the way subjectAltName stores them. */
export interface SubjectNames {
  /** Lower-case ASCII (punycode) DNS names, without a trailing dot. */
  readonly dns: readonly string[];
  /** Canonical IP literals (IPv6 compressed, as WHATWG URLs print them) so equal addresses compare equal. */
  readonly ips: readonly string[];
}

/** Always covered: what a browser or curl on the same machine uses to reach a local server. */
export const DEFAULT_NAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];

const LABEL = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)$/;

/**
 * Canonical text of an IP literal, or undefined when `value` is not one. Brackets are accepted because users copy
 * IPv6 hosts out of URLs; zone ids are refused since a certificate cannot carry them.
 */
export function canonicalIp(value: string): string | undefined {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  const version = isIP(bare);
  if (version === 4) return bare.split('.').map(Number).join('.');
  if (version === 6) {
    if (bare.includes('%')) return undefined;
    // The URL parser is Node's canonical IPv6 printer: it compresses zeros and rewrites embedded IPv4 as hex.
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  }
  return undefined;
}

/** Lower-case ASCII form of a DNS name (a leading `*.` wildcard allowed), or undefined when it is not a valid one. */
export function canonicalDnsName(value: string): string | undefined {
  const trimmed = value.trim().replace(/\.$/, '');
  const wildcard = trimmed.startsWith('*.');
  const ascii = domainToASCII(wildcard ? trimmed.slice(2) : trimmed).toLowerCase();
  if (ascii === '' || ascii.length > 253) return undefined;
  if (!ascii.split('.').every((label) => LABEL.test(label))) return undefined;
  return wildcard ? `*.${ascii}` : ascii;
}

export interface ResolveNamesOptions {
  /** Names the caller asked for; an invalid one is an error because the user typed it. */
  readonly requested: readonly string[];
  /** The machine's host name; skipped when unusable (some systems allow names a certificate cannot hold). */
  readonly machine: string;
}

/** Merges the defaults, the machine name and the requested names into sorted, de-duplicated SAN lists. */
export function resolveNames(options: ResolveNamesOptions): SubjectNames {
  const dns = new Set<string>();
  const ips = new Set<string>();
  const add = (name: string, strict: boolean): void => {
    const ip = canonicalIp(name);
    if (ip !== undefined) {
      ips.add(ip);
      return;
    }
    const host = canonicalDnsName(name);
    if (host !== undefined) {
      dns.add(host);
      return;
    }
    if (strict) {
      throw new TlsError(
        'invalid_hostname',
        `"${name}" is neither a DNS name nor an IP address, so a certificate cannot cover it`,
      );
    }
  };
  for (const name of DEFAULT_NAMES) add(name, true);
  add(options.machine, false);
  for (const name of options.requested) add(name, true);
  return { dns: [...dns].sort(), ips: [...ips].sort() };
}
