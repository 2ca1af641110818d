import { createHmac } from 'node:crypto';
import type { AuthStore } from './store/open.ts';

/** The development landscape's clients, as in the Spring Cloud sample landscape. */
export const DEV_CLIENTS = [
  { client_id: 'reader', scope: 'openid offline_access product:read' },
  { client_id: 'writer', scope: 'openid offline_access product:read product:write' },
] as const;

const DEV_REDIRECT = 'https://my.redirect.uri';

/**
 * Registers `reader` and `writer` unless they exist, and answers the lines that tell their credentials. Their
 * secrets are derived from the master key, so they stay the same across restarts of one data dir and can be printed
 * again although only hashes are stored; a secret rotated since is not printed.
 */
export function seedDevClients(store: AuthStore): string[] {
  const notes: string[] = [];
  const key = store.master.derive('dev-secrets');
  for (const dev of DEV_CLIENTS) {
    const secret = createHmac('sha256', key).update(dev.client_id).digest('base64url');
    if (store.clients.find(dev.client_id) === undefined) {
      store.clients.create(
        {
          client_id: dev.client_id,
          client_name: `${dev.client_id} (development)`,
          scope: dev.scope,
          grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
          redirect_uris: [DEV_REDIRECT],
        },
        { secret },
      );
    }
    notes.push(
      store.clients.verifySecret(dev.client_id, secret)
        ? `auth-server: development client ${dev.client_id} / ${secret} (scope ${dev.scope.replace('openid offline_access ', '')})`
        : `auth-server: development client ${dev.client_id} has a rotated secret (not shown)`,
    );
  }
  return notes;
}
