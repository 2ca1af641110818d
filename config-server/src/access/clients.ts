// The config clients (CONFIG_CLIENTS): their credentials and the applications each may read.
import { parseScopedEntries, scopedCredentials, type ScopedClient } from '@trellis/kit';

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

export class ClientsSyntaxError extends Error {
  override readonly name = 'ClientsSyntaxError';
}

/**
 * Parses `CONFIG_CLIENTS`: entries separated by `;`, each `id:secret:app1,app2` (`*` for every application), with
 * the kit's parser (the registry's REGISTRY_CLIENTS has the same shape). Application names are compared as given.
 * Errors name the entry by position and id, never the secret; a secret shared by two entries is refused, as a secret
 * doubles as a bearer token.
 *
 * @example
 * parseClients('product:s3cret-product:product,application;ops:t0ken-ops:*');
 */
export function parseClients(text: string): { id: string; secret: string; applications: string[] }[] {
  try {
    return parseScopedEntries(text, { source: 'CONFIG_CLIENTS', noun: 'application' }).map((e) => ({
      id: e.id,
      secret: e.secret,
      applications: [...e.scopes],
    }));
  } catch (err) {
    // The kit's parser reports a bad entry as a TypeError; here that is a settings mistake.
    if (err instanceof TypeError) throw new ClientsSyntaxError(err.message);
    throw err;
  }
}

/** Builds the credential check; secrets are kept only as SHA-256 digests, every entry compared (the kit's). */
export function createAccessControl(
  clients: readonly { id: string; secret: string; applications: readonly string[] }[],
): AccessControl {
  const check = scopedCredentials(clients.map((c) => ({ id: c.id, secret: c.secret, scopes: c.applications })));
  const publicView = (c: ScopedClient | undefined): ConfigClient | undefined =>
    c === undefined ? undefined : { id: c.id, applications: c.scopes };
  return {
    applications: [...new Set(check.clients.flatMap((c) => c.scopes.filter((a) => a !== '*')))],
    authenticate({ authorization, configToken }) {
      if (configToken !== undefined && configToken !== '') return publicView(check.token(configToken));
      return publicView(check.bearer(authorization) ?? check.basic(authorization));
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
