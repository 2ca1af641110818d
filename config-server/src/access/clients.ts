import { createHash, timingSafeEqual } from 'node:crypto';

/** A credential allowed to read some applications' configuration (or all of them with `*`). */
export interface ConfigClient {
  readonly id: string;
  /** Applications whose `/{name}/…` this client may read; `*` means every one (and `/decrypt`). */
  readonly applications: readonly string[];
}

export interface AccessControl {
  /** Every application some client is limited to: the names documents are told apart by (see ownership.ts). */
  readonly applications: readonly string[];
  /** Basic `id:secret`, `Authorization: Bearer <secret>` or Spring's `X-Config-Token: <secret>`; undefined if none match. */
  authenticate(headers: { authorization?: string; configToken?: string }): ConfigClient | undefined;
}

interface StoredClient extends ConfigClient {
  readonly secretDigest: Buffer;
}

export class ClientsSyntaxError extends Error {
  override readonly name = 'ClientsSyntaxError';
}

const ID = /^[A-Za-z0-9][\w.@-]*$/;
const APPLICATION = /^(\*|[A-Za-z0-9][\w.@-]*)$/;

function digest(secret: string): Buffer {
  // Comparing fixed-length digests keeps the comparison constant-time whatever the secret's length.
  return createHash('sha256').update(secret, 'utf8').digest();
}

/**
 * Parses `CONFIG_CLIENTS`: entries separated by `;`, each `id:secret:app1,app2` (`*` for every application).
 * Errors name the entry by position and id, never the secret.
 *
 * @example
 * parseClients('product:s3cret:product,application;ops:t0ken:*');
 */
export function parseClients(text: string): { id: string; secret: string; applications: string[] }[] {
  const out: { id: string; secret: string; applications: string[] }[] = [];
  const entries = text
    .split(';')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  entries.forEach((entry, index) => {
    const first = entry.indexOf(':');
    const last = entry.lastIndexOf(':');
    const where = `CONFIG_CLIENTS entry ${index + 1}`;
    if (first <= 0 || last === first) throw new ClientsSyntaxError(`${where} must be id:secret:applications`);
    const id = entry.slice(0, first);
    const secret = entry.slice(first + 1, last);
    const applications = entry
      .slice(last + 1)
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    if (!ID.test(id)) throw new ClientsSyntaxError(`${where}: id must be letters, digits and . _ @ -`);
    if (secret.length < 8) throw new ClientsSyntaxError(`${where} (${id}): the secret needs at least 8 characters`);
    if (applications.length === 0 || !applications.every((a) => APPLICATION.test(a))) {
      throw new ClientsSyntaxError(`${where} (${id}): list application names, or * for all`);
    }
    if (out.some((c) => c.id === id)) throw new ClientsSyntaxError(`${where}: id ${id} appears twice`);
    // A secret doubles as a bearer token, so two clients sharing one would be indistinguishable.
    if (out.some((c) => c.secret === secret)) throw new ClientsSyntaxError(`${where} (${id}): secret reused`);
    out.push({ id, secret, applications });
  });
  return out;
}

/** Builds the credential check; secrets are kept only as SHA-256 digests. */
export function createAccessControl(
  clients: readonly { id: string; secret: string; applications: readonly string[] }[],
): AccessControl {
  const stored: StoredClient[] = clients.map((c) => ({
    id: c.id,
    applications: [...c.applications],
    secretDigest: digest(c.secret),
  }));
  const bySecret = (secret: string): StoredClient | undefined => {
    const d = digest(secret);
    let found: StoredClient | undefined;
    // Every entry is compared so the time taken does not reveal which one matched.
    for (const c of stored) if (timingSafeEqual(c.secretDigest, d)) found = c;
    return found;
  };
  const publicView = (c: StoredClient | undefined): ConfigClient | undefined =>
    c === undefined ? undefined : { id: c.id, applications: c.applications };
  return {
    applications: [...new Set(stored.flatMap((c) => c.applications.filter((a) => a !== '*')))],
    authenticate({ authorization, configToken }) {
      if (configToken !== undefined && configToken !== '') return publicView(bySecret(configToken));
      if (authorization === undefined) return undefined;
      const space = authorization.indexOf(' ');
      const scheme = authorization.slice(0, space).toLowerCase();
      const value = authorization.slice(space + 1).trim();
      if (scheme === 'bearer') return publicView(bySecret(value));
      if (scheme !== 'basic') return undefined;
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return undefined;
      const client = bySecret(decoded.slice(colon + 1));
      return client?.id === decoded.slice(0, colon) ? publicView(client) : undefined;
    },
  };
}

/** Whether `client` may read every one of `applications`. */
export function mayRead(client: ConfigClient, applications: readonly string[]): boolean {
  if (client.applications.includes('*')) return true;
  return applications.every((a) => client.applications.includes(a));
}

export function isUnrestricted(client: ConfigClient): boolean {
  return client.applications.includes('*');
}
