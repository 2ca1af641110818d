// Credentials each limited to some names (applications): `id:secret:name1,name2;ops:secret:*`, the registry's
// REGISTRY_CLIENTS (and the shape of the config server's CONFIG_CLIENTS). Holding one credential lets a client act
// for its own names only, so one compromised service cannot act for another. Secrets are kept as SHA-256 digests and
// every entry is compared, so the time a check takes reveals neither which entry matched nor how long its secret is.
import { createHash, timingSafeEqual } from 'node:crypto';

/** One entry as written: `*` among the scopes means every name. */
export interface ScopedEntry {
  readonly id: string;
  readonly secret: string;
  readonly scopes: readonly string[];
}

/** Who presented a credential and the names it may act for (`*`: all). */
export interface ScopedClient {
  readonly id: string;
  readonly scopes: readonly string[];
}

export interface ScopedCredentials {
  /** The entries, secrets left out. */
  readonly clients: readonly ScopedClient[];
  /** The client whose HTTP Basic `id:secret` this Authorization header carries; undefined if none. */
  basic(authorization: string | undefined): ScopedClient | undefined;
}

const ID = /^[A-Za-z0-9][\w.@-]*$/;
const SCOPE = /^(\*|[A-Za-z0-9][\w.@-]*)$/;

/**
 * Parses `id:secret:scope1,scope2;…` (the secret may hold colons; `*` for every name). Throws a TypeError naming the
 * entry by position and id, never the secret, for the caller to turn into its settings error. `normalize` maps each
 * scope to the form it is compared in (the registry upper-cases application names as Eureka does).
 *
 * @example
 * parseScopedEntries('review:s3cret-review:REVIEW;ops:s3cret-ops:*', (s) => s.toUpperCase());
 */
export function parseScopedEntries(text: string, normalize: (scope: string) => string = (s) => s): ScopedEntry[] {
  const out: ScopedEntry[] = [];
  const entries = text
    .split(';')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  entries.forEach((entry, index) => {
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    const where = `entry ${index + 1}`;
    if (first <= 0 || last === first) throw new TypeError(`${where} must be id:secret:names`);
    const id = entry.slice(0, first);
    const secret = entry.slice(first + 1, last);
    const scopes = entry
      .slice(last + 1)
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    if (!ID.test(id)) throw new TypeError(`${where}: id must be letters, digits and . _ @ -`);
    if (secret.length < 8) throw new TypeError(`${where} (${id}): the secret needs at least 8 characters`);
    if (scopes.length === 0 || !scopes.every((a) => SCOPE.test(a))) {
      throw new TypeError(`${where} (${id}): list names, or * for all`);
    }
    if (out.some((c) => c.id === id)) throw new TypeError(`${where}: id ${id} appears twice`);
    // Two clients sharing a secret could not be told apart wherever the secret alone is presented.
    if (out.some((c) => c.secret === secret)) throw new TypeError(`${where} (${id}): secret reused`);
    out.push({ id, secret, scopes: [...new Set(scopes.map((s) => (s === '*' ? s : normalize(s))))] });
  });
  return out;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The check over parsed entries. */
export function scopedCredentials(entries: readonly ScopedEntry[]): ScopedCredentials {
  // The digest covers `id:secret`, exactly what Basic carries, so one hash of the header's value finds the entry.
  const stored = entries.map((e) => ({ id: e.id, scopes: [...e.scopes], digest: digest(`${e.id}:${e.secret}`) }));
  const clients = stored.map(({ id, scopes }) => ({ id, scopes }));
  return {
    clients,
    basic(authorization) {
      if (authorization === undefined || stored.length === 0) return undefined;
      const space = authorization.indexOf(' ');
      if (space === -1 || authorization.slice(0, space).toLowerCase() !== 'basic') return undefined;
      const given = digest(Buffer.from(authorization.slice(space + 1).trim(), 'base64').toString('utf8'));
      let found: number | undefined;
      stored.forEach((s, i) => {
        if (timingSafeEqual(s.digest, given)) found = i;
      });
      return found === undefined ? undefined : clients[found];
    },
  };
}

/** Whether `client` may act for `name` (already normalized). */
export function mayActFor(client: ScopedClient, name: string): boolean {
  return client.scopes.includes('*') || client.scopes.includes(name);
}
