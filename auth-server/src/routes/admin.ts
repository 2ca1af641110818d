// The admin API: `/admin/clients`, `/admin/users` and `/admin/keys`, behind the admin Bearer token.
import { Hono, type Context, type Next } from 'hono';
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { CLIENT_INPUT_MEMBERS, type ClientStore } from '../oauth-clients/store.ts';
import type { UserStore } from '../users/store.ts';
import type { SigningKeyInfo, SigningKeys } from '../crypto/signing-keys.ts';
import { adminError } from '../api-docs.ts';
import { AuthServerError } from '../errors.ts';
import { firstUnstorable } from '../store/text.ts';
import { checkOperatorToken, type TokenGuard } from './operator-token.ts';
import { clientMetadataBody, onlyMembers, userBody } from './json-body.ts';

export interface AdminDeps {
  readonly clients: ClientStore;
  readonly users: UserStore;
  /** The admin credential (Bearer token); undefined turns the admin API off. */
  readonly adminToken: string | undefined;
  readonly keys: SigningKeys;
  /** Makes a new signing key current and reloads the provider with it (old keys stay published). */
  rotateKeys(): Promise<SigningKeyInfo>;
  /** Wrong admin tokens are throttled per source address. */
  readonly guard: TokenGuard;
}

const schema = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonOf = (s: object) => ({ 'application/json': { schema: s } });

/** What every admin operation may answer besides its own outcome. */
const REFUSALS = {
  401: adminError('no or a wrong admin token (WWW-Authenticate: Bearer)'),
  404: adminError('admin_disabled: no admin token is configured (or the named client, user does not exist)'),
  429: adminError('too many wrong admin tokens from this address (Retry-After)'),
} as const;

/** An admin operation: tagged, behind the admin token, refusals included. */
function admin(operation: OpenApiOperation): OpenApiOperation {
  return {
    tags: ['admin'],
    security: [{ adminToken: [] }],
    ...operation,
    responses: { ...REFUSALS, ...operation.responses },
  };
}

const clientId = {
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
} as const;
const username = {
  name: 'username',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,64}$' },
} as const;

/** Links from a created client (`{client: {client_id}}`) and user to the operations on it. */
const CLIENT_LINKS = {
  GetClient: { operationId: 'getClient', parameters: { id: '$response.body#/client/client_id' } },
  RotateClientSecret: { operationId: 'rotateClientSecret', parameters: { id: '$response.body#/client/client_id' } },
  DeleteClient: { operationId: 'deleteClient', parameters: { id: '$response.body#/client/client_id' } },
};
const USER_LINKS = {
  GetUser: { operationId: 'getUser', parameters: { username: '$response.body#/username' } },
  DeleteUser: { operationId: 'deleteUser', parameters: { username: '$response.body#/username' } },
};
const USER_MEMBERS = ['username', 'password', 'name', 'email'];
const JSON_REFUSALS = {
  413: adminError('the body is over the size limit'),
  415: adminError('not application/json, or with a content-encoding'),
};

/**
 * `/admin/clients`: register, list, show, rotate the secret of and remove clients. Secrets appear only in the
 * answers to create and rotate-secret. `/admin/users`: add, list, show and remove local users (the password is
 * stored as an argon2id hash and never shown). `/admin/keys` lists signing keys and rotates them. Requests carry
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

  app.post(
    '/clients',
    documented(
      admin({
        summary: 'Registers a client; its secret is in this answer only',
        operationId: 'createClient',
        requestBody: { required: true, content: jsonOf(schema('NewClient')) },
        responses: {
          201: { description: 'created', content: jsonOf(schema('CreatedClient')), links: CLIENT_LINKS },
          400: adminError('invalid_client_metadata (an unknown member too) or invalid_redirect_uri, with the reason'),
          409: adminError('client_exists'),
          ...JSON_REFUSALS,
        },
      }),
      async (c) => {
        const body = await clientMetadataBody(c);
        onlyMembers(body, CLIENT_INPUT_MEMBERS, 'invalid_client_metadata');
        const created = await deps.clients.create(body);
        c.header('cache-control', 'no-store');
        return c.json(created, 201);
      },
    ),
  );
  app.get(
    '/clients',
    documented(
      admin({
        summary: 'All clients (never their secrets)',
        operationId: 'listClients',
        responses: { 200: { description: 'the clients', content: jsonOf({ type: 'array', items: schema('Client') }) } },
      }),
      async (c) => c.json(await deps.clients.list()),
    ),
  );
  app.get(
    '/clients/:id',
    documented(
      admin({
        summary: 'One client',
        operationId: 'getClient',
        parameters: [clientId],
        responses: { 200: { description: 'the client', content: jsonOf(schema('Client')) } },
      }),
      async (c) => c.json(await deps.clients.show(c.req.param('id') ?? '')),
    ),
  );
  app.post(
    '/clients/:id/rotate-secret',
    documented(
      admin({
        summary: 'Gives the client a new secret (the old one stops working); the secret is in this answer only',
        operationId: 'rotateClientSecret',
        parameters: [clientId],
        responses: {
          200: {
            description: 'the new secret',
            content: jsonOf({
              type: 'object',
              required: ['client_id', 'client_secret'],
              properties: { client_id: { type: 'string' }, client_secret: { type: 'string' } },
            }),
          },
          409: adminError('public_client: a public client has no secret'),
        },
      }),
      async (c) => {
        const clientSecret = await deps.clients.rotateSecret(c.req.param('id') ?? '');
        c.header('cache-control', 'no-store');
        return c.json({ client_id: c.req.param('id') ?? '', client_secret: clientSecret });
      },
    ),
  );
  app.delete(
    '/clients/:id',
    documented(
      admin({
        summary: 'Removes a client',
        operationId: 'deleteClient',
        parameters: [clientId],
        responses: { 204: { description: 'removed' } },
      }),
      async (c) => {
        await deps.clients.remove(c.req.param('id') ?? '');
        return c.body(null, 204);
      },
    ),
  );

  app.post(
    '/users',
    documented(
      admin({
        summary: 'Adds a local user (the password is kept as an argon2id hash)',
        operationId: 'createUser',
        requestBody: { required: true, content: jsonOf(schema('NewUser')) },
        responses: {
          201: { description: 'added', content: jsonOf(schema('User')), links: USER_LINKS },
          400: adminError('invalid_user (an unknown member too), with the reason'),
          409: adminError('user_exists'),
          ...JSON_REFUSALS,
        },
      }),
      async (c) => {
        const body = await userBody(c);
        // Member names too, before onlyMembers echoes one back in its reason.
        const unstorable = firstUnstorable(body);
        if (unstorable !== undefined) throw new AuthServerError('invalid_user', `a value ${unstorable}`);
        onlyMembers(body, USER_MEMBERS, 'invalid_user');
        const user = await deps.users.add({
          username: body.username as string,
          password: body.password as string,
          ...(body.name === undefined ? {} : { name: body.name as string }),
          ...(body.email === undefined ? {} : { email: body.email as string }),
        });
        return c.json(user, 201);
      },
    ),
  );
  app.get(
    '/users',
    documented(
      admin({
        summary: 'All local users (never their password hashes)',
        operationId: 'listUsers',
        responses: { 200: { description: 'the users', content: jsonOf({ type: 'array', items: schema('User') }) } },
      }),
      async (c) => c.json(await deps.users.list()),
    ),
  );
  app.get(
    '/users/:username',
    documented(
      admin({
        summary: 'One local user',
        operationId: 'getUser',
        parameters: [username],
        responses: { 200: { description: 'the user', content: jsonOf(schema('User')) } },
      }),
      async (c) => c.json(await deps.users.show(c.req.param('username') ?? '')),
    ),
  );
  app.delete(
    '/users/:username',
    documented(
      admin({
        summary: 'Removes a local user',
        operationId: 'deleteUser',
        parameters: [username],
        responses: { 204: { description: 'removed' } },
      }),
      async (c) => {
        await deps.users.remove(c.req.param('username') ?? '');
        return c.body(null, 204);
      },
    ),
  );

  app.get(
    '/keys',
    documented(
      admin({
        summary: 'The signing keys, newest first; retired ones stay published until their tokens expire',
        operationId: 'listKeys',
        responses: {
          200: { description: 'the keys', content: jsonOf({ type: 'array', items: schema('SigningKey') }) },
        },
      }),
      async (c) => c.json((await deps.keys.list()).map(keyView)),
    ),
  );
  app.post(
    '/keys/rotate',
    documented(
      admin({
        summary: 'Makes a new signing key current (the old one is retired but still published)',
        operationId: 'rotateKeys',
        responses: { 201: { description: 'the new key', content: jsonOf(schema('SigningKey')) } },
      }),
      async (c) => c.json(keyView(await deps.rotateKeys()), 201),
    ),
  );
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
