// The development clients (reader, writer, gateway): seeded once, their secrets derived from the master key.
import { createHmac } from 'node:crypto';
import type { DevelopmentClient } from '@trellis/kit';
import type { ClientInput } from './oauth-clients/store.ts';
import type { AuthStore } from './data-dir.ts';
import { isAuthServerError } from './errors.ts';

const DEV_REDIRECT = 'https://my.redirect.uri';
const USER_GRANTS = ['client_credentials', 'authorization_code', 'refresh_token'];

/** The id of the development landscape's resource-server client: it may introspect every client's tokens. */
export const GATEWAY_CLIENT_ID = 'gateway';

/**
 * The development landscape's clients: `reader` and `writer` as in the Spring Cloud sample landscape, and `gateway`,
 * which only authenticates to introspect tokens (client_credentials, the least scope) and whose credential goes to
 * the gateway through the component's exports instead of the printed notes.
 */
export const DEV_CLIENTS = [
  {
    client_id: 'reader',
    scope: 'openid offline_access product:read',
    grant_types: USER_GRANTS,
    redirect_uris: [DEV_REDIRECT],
  },
  {
    client_id: 'writer',
    scope: 'openid offline_access product:read product:write',
    grant_types: USER_GRANTS,
    redirect_uris: [DEV_REDIRECT],
  },
  { client_id: GATEWAY_CLIENT_ID, scope: 'openid', grant_types: ['client_credentials'], redirect_uris: [] },
] as const satisfies readonly ClientInput[];

export interface SeededClients {
  /** Lines telling the credentials of `reader` and `writer` (never the gateway's secret). */
  readonly notes: string[];
  /** The gateway's introspection credential, as the variables the gateway reads; empty if its secret was rotated. */
  readonly exports: Record<string, string>;
  /** `reader` and `writer` with their secrets, for the commands `trellis up` suggests; those rotated since are left out. */
  readonly developmentClients: DevelopmentClient[];
}

/**
 * Registers the development clients unless they exist. Their secrets are derived from the master key, so they stay
 * the same across restarts of one data dir and can be told again although only hashes are stored; a secret rotated
 * since is not.
 */
export async function seedDevClients(store: AuthStore): Promise<SeededClients> {
  const notes: string[] = [];
  const exports: Record<string, string> = {};
  const developmentClients: DevelopmentClient[] = [];
  const key = store.master.derive('dev-secrets');
  for (const dev of DEV_CLIENTS) {
    const secret = createHmac('sha256', key).update(dev.client_id).digest('base64url');
    if ((await store.clients.find(dev.client_id)) === undefined) {
      await createUnlessMade(
        store,
        {
          client_id: dev.client_id,
          client_name: `${dev.client_id} (development)`,
          scope: dev.scope,
          grant_types: dev.grant_types,
          redirect_uris: dev.redirect_uris,
        },
        secret,
      );
    }
    const current = await store.clients.verifySecret(dev.client_id, secret);
    if (dev.client_id === GATEWAY_CLIENT_ID) {
      if (current) {
        exports.GATEWAY_INTROSPECTION_CLIENT_ID = dev.client_id;
        exports.GATEWAY_INTROSPECTION_CLIENT_SECRET = secret;
      }
      notes.push(
        current
          ? `auth-server: development client ${dev.client_id} introspects tokens (credential handed to the gateway)`
          : `auth-server: development client ${dev.client_id} has a rotated secret (not handed to the gateway)`,
      );
    } else {
      if (current) developmentClients.push({ id: dev.client_id, secret, scope: dev.scope });
      notes.push(
        current
          ? `auth-server: development client ${dev.client_id} / ${secret} (scope ${dev.scope.replace('openid offline_access ', '')})`
          : `auth-server: development client ${dev.client_id} has a rotated secret (not shown)`,
      );
    }
  }
  return { notes, exports, developmentClients };
}

/** Creates a development client; one created meanwhile by another instance starting on the same database is kept. */
async function createUnlessMade(store: AuthStore, input: ClientInput, secret: string): Promise<void> {
  try {
    await store.clients.create(input, { secret });
  } catch (err) {
    if (!(isAuthServerError(err) && err.code === 'client_exists')) throw err;
  }
}
