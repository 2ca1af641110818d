// The admin API: `/admin/clients` and `/admin/keys`, behind the admin Bearer token.
import { Hono, type Context, type Next } from 'hono';
import type { KitEnv } from '@trellis/kit';
import type { ClientStore } from '../oauth-clients/store.ts';
import type { SigningKeyInfo, SigningKeys } from '../crypto/signing-keys.ts';
import { AuthServerError } from '../errors.ts';
import { checkOperatorToken, type TokenGuard } from './operator-token.ts';
import { clientMetadataBody } from './json-body.ts';

export interface AdminDeps {
  readonly clients: ClientStore;
  /** The admin credential (Bearer token); undefined turns the admin API off. */
  readonly adminToken: string | undefined;
  readonly keys: SigningKeys;
  /** Makes a new signing key current and reloads the provider with it (old keys stay published). */
  rotateKeys(): Promise<SigningKeyInfo>;
  /** Wrong admin tokens are throttled per source address. */
  readonly guard: TokenGuard;
}

/**
 * `/admin/clients`: register, list, show, rotate the secret of and remove clients. Secrets appear only in the
 * answers to create and rotate-secret. `/admin/keys` lists signing keys and rotates them. Requests carry
 * `Authorization: Bearer <admin token>`.
 */
export function adminRoutes(deps: AdminDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  app.use(async (c: Context<KitEnv>, next: Next) => {
    if (deps.adminToken === undefined) {
      throw new AuthServerError('admin_disabled', 'the admin API is off; set AUTH_ADMIN_TOKEN to turn it on');
    }
    const header = c.req.header('authorization') ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1];
    // No token is no guess: it is not counted.
    if (token === undefined || !(await checkOperatorToken(c, deps.guard, 'admin-token', token, deps.adminToken))) {
      c.header('www-authenticate', 'Bearer realm="trellis-admin"');
      throw new AuthServerError('unauthorized', 'send Authorization: Bearer <admin token> (AUTH_ADMIN_TOKEN)');
    }
    await next();
  });

  app.post('/clients', async (c) => {
    const created = await deps.clients.create(await clientMetadataBody(c));
    c.header('cache-control', 'no-store');
    return c.json(created, 201);
  });
  app.get('/clients', async (c) => c.json(await deps.clients.list()));
  app.get('/clients/:id', async (c) => c.json(await deps.clients.show(c.req.param('id'))));
  app.post('/clients/:id/rotate-secret', async (c) => {
    const clientSecret = await deps.clients.rotateSecret(c.req.param('id'));
    c.header('cache-control', 'no-store');
    return c.json({ client_id: c.req.param('id'), client_secret: clientSecret });
  });
  app.delete('/clients/:id', async (c) => {
    await deps.clients.remove(c.req.param('id'));
    return c.body(null, 204);
  });
  app.get('/keys', async (c) => c.json((await deps.keys.list()).map(keyView)));
  app.post('/keys/rotate', async (c) => c.json(keyView(await deps.rotateKeys()), 201));
  return app;
}

function keyView(k: SigningKeyInfo) {
  return {
    kid: k.kid,
    alg: k.alg,
    created_at: new Date(k.createdAt).toISOString(),
    ...(k.retiredAt === undefined ? {} : { retired_at: new Date(k.retiredAt).toISOString() }),
  };
}
