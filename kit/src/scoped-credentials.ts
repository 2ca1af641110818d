// Credentials each limited to some names (applications): `id:secret:name1,name2;ops:secret:*`, the registry's
// REGISTRY_CLIENTS and the config server's CONFIG_CLIENTS (and CONFIG_ADMINS). Holding one credential lets a client act
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
  /** The client whose secret this `Authorization: Bearer <secret>` header carries; undefined if none. */
  bearer(authorization: string | undefined): ScopedClient | undefined;
  /**
   * The client whose secret alone this is (a bearer token, Spring's `X-Config-Token`); undefined if none. Sound only
   * because parseScopedEntries refuses a secret shared by two entries.
   */
  token(secret: string): ScopedClient | undefined;
}

export interface ScopedEntryOptions {
  /** Maps each name to the form it is compared in (the registry upper-cases application names as Eureka does). */
  readonly normalize?: (scope: string) => string;
  /** Put before `entry N` in messages: the variable the text came from (`CONFIG_CLIENTS`). */
  readonly source?: string;
  /** What the names are, in messages (`application`: `id:secret:applications`); default plain `names`. */
  readonly noun?: string;
}

const ID = /^[A-Za-z0-9][\w.@-]*$/;
const SCOPE = /^(\*|[A-Za-z0-9][\w.@-]*)$/;

/**
 * Parses `id:secret:scope1,scope2;…` (the secret may hold colons; `*` for every name). Throws a TypeError naming the
 * entry by position and id, never the secret, for the caller to turn into its settings error. Names repeated in one
 * entry are kept once.
 *
 * @example
 * parseScopedEntries('review:s3cret-review:REVIEW;ops:s3cret-ops:*', { normalize: (s) => s.toUpperCase() });
 */
export function parseScopedEntries(text: string, options: ScopedEntryOptions = {}): ScopedEntry[] {
  const { normalize = (s: string) => s, source, noun } = options;
  const names = noun === undefined ? 'names' : `${noun}s`;
  const listNames = noun === undefined ? 'names' : `${noun} names`;
  const out: ScopedEntry[] = [];
  const entries = text
    .split(';')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  entries.forEach((entry, index) => {
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    const where = `${source === undefined ? '' : `${source} `}entry ${index + 1}`;
    if (first <= 0 || last === first) throw new TypeError(`${where} must be id:secret:${names}`);
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
      throw new TypeError(`${where} (${id}): list ${listNames}, or * for all`);
    }
    if (out.some((c) => c.id === id)) throw new TypeError(`${where}: id ${id} appears twice`);
    // Two clients sharing a secret could not be told apart wherever the secret alone is presented (token()).
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
  // One digest covers `id:secret`, exactly what Basic carries, so one hash of the header's value finds the entry; the
  // other the secret alone, for the forms that carry nothing else.
  const stored = entries.map((e) => ({ basic: digest(`${e.id}:${e.secret}`), token: digest(e.secret) }));
  const clients = entries.map(({ id, scopes }) => ({ id, scopes: [...scopes] }));
  const find = (kind: 'basic' | 'token', text: string): ScopedClient | undefined => {
    const given = digest(text);
    let found: number | undefined;
    // Every entry is compared, so the time taken does not reveal which one matched.
    stored.forEach((s, i) => {
      if (timingSafeEqual(s[kind], given)) found = i;
    });
    return found === undefined ? undefined : clients[found];
  };
  /** The value of an Authorization header in `scheme`; undefined for another scheme. */
  const credentialsOf = (authorization: string | undefined, scheme: string): string | undefined => {
    if (authorization === undefined || stored.length === 0) return undefined;
    const space = authorization.indexOf(' ');
    if (space === -1 || authorization.slice(0, space).toLowerCase() !== scheme) return undefined;
    return authorization.slice(space + 1).trim();
  };
  return {
    clients,
    basic(authorization) {
      const value = credentialsOf(authorization, 'basic');
      return value === undefined ? undefined : find('basic', Buffer.from(value, 'base64').toString('utf8'));
    },
    bearer(authorization) {
      const value = credentialsOf(authorization, 'bearer');
      return value === undefined ? undefined : find('token', value);
    },
    token(secret) {
      return stored.length === 0 ? undefined : find('token', secret);
    },
  };
}

/** Whether `client` may act for `name` (already normalized). */
export function mayActFor(client: ScopedClient, name: string): boolean {
  return client.scopes.includes('*') || client.scopes.includes(name);
}
