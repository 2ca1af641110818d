// Dynamic client registration (RFC 7591) and client configuration (RFC 7592) under `/oauth2/register`.
import { Hono, type Context } from 'hono';
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { oauthError } from '../api-docs.ts';
import {
  validateClientInput,
  type ClientMetadata,
  type ClientStore,
  type Registration,
} from '../oauth-clients/store.ts';
import { checkRegistrationPolicy, type RegistrationPolicy } from '../oauth-clients/registration-policy.ts';
import { AuthServerError, isAuthServerError } from '../errors.ts';
import { checkOperatorToken, type TokenGuard } from './operator-token.ts';
import { clientMetadataBody } from './json-body.ts';
import { REGISTRATION_PATH } from '../oidc/constants.ts';
import { isStoreUnavailable, RETRY_AFTER_SEC } from '../store/unavailable.ts';

export interface RegistrationDeps {
  readonly clients: ClientStore;
  /** The initial access token registration requires; undefined turns dynamic registration off. */
  readonly initialAccessToken: string | undefined;
  /**
   * Checks metadata the way oidc-provider will when it loads the client, so that nothing it would refuse is stored;
   * throws an {@link AuthServerError} (invalid_client_metadata or invalid_redirect_uri) with its reason.
   */
  checkMetadata(metadata: ClientMetadata): Promise<void>;
  /** What registered clients may ask for, on registration and on every update. */
  readonly policy: RegistrationPolicy;
  /** The configured issuer; client configuration URIs are built from it, never from the request's Host. */
  issuer(): string;
  /** Wrong initial access tokens are throttled per source, as the admin token's are. */
  readonly guard: TokenGuard;
}

/** Fields the server sets; an update request must not carry them (RFC 7592 §2.2). */
const SERVER_FIELDS = [
  'registration_access_token',
  'registration_client_uri',
  'client_secret_expires_at',
  'client_id_issued_at',
] as const;

function bearer(c: Context<KitEnv>): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(c.req.header('authorization') ?? '')?.[1];
}

/** The request body as a JSON object; members that are null count as absent (RFC 7592 §2.2 allows ignoring them). */
async function metadataOf(c: Context<KitEnv>): Promise<Record<string, unknown>> {
  return Object.fromEntries(Object.entries(await clientMetadataBody(c)).filter(([, v]) => v !== null));
}

/** RFC 7591 §3.2.1 / RFC 7592 §3: the metadata as registered, plus where and how to manage it. */
function information(registration: Registration, clientUri: string, token: string): Record<string, unknown> {
  return {
    ...registration,
    registration_access_token: token,
    registration_client_uri: clientUri,
  };
}

const REGISTRATION = {
  'application/json': { schema: { $ref: '#/components/schemas/Registration' } },
} as const;
const CLIENT_ID = {
  name: 'clientId',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
} as const;
/** Links from a registration to its client configuration endpoint (RFC 7592), with its registration access token. */
const LINKS = Object.fromEntries(
  (['readRegistration', 'updateRegistration', 'deleteRegistration'] as const).map((operationId) => [
    operationId,
    {
      operationId,
      parameters: { clientId: '$response.body#/client_id' },
      requestBody: operationId === 'updateRegistration' ? { client_id: '$response.body#/client_id' } : undefined,
    },
  ]),
);

/** A registration operation: tagged, behind its Bearer token, refusals in RFC 7591 §3.2.2 form. */
function registration(operation: OpenApiOperation, metadata: boolean): OpenApiOperation {
  return {
    tags: ['registration'],
    security: [{ registrationToken: [] }],
    ...operation,
    ...(metadata
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ClientMetadata' } } },
          },
        }
      : {}),
    responses: {
      401: oauthError('invalid_token: no or a wrong token (an unknown client too: ids are not revealed)'),
      404: oauthError('registration_disabled: no AUTH_REGISTRATION_TOKEN is configured'),
      429: oauthError('too many wrong initial access tokens from this address (Retry-After)'),
      ...(metadata
        ? {
            400: oauthError('invalid_client_metadata or invalid_redirect_uri, with the reason'),
            413: { description: 'the body is over the size limit' },
            415: oauthError('not application/json, or with a content-encoding'),
          }
        : {}),
      ...operation.responses,
    },
  };
}

/**
 * RFC 7591 dynamic client registration (`POST /oauth2/register` with the initial access token as a Bearer token) and
 * RFC 7592 client configuration (`GET|PUT|DELETE /oauth2/register/:clientId` with the registration access token).
 * Clients land in the same store as those of the admin API and `trellis clients`; secrets and registration access
 * tokens are answered once and stored as keyed hashes. Errors follow RFC 7591 §3.2.2: `{error, error_description}`.
 */
export function registrationRoutes(deps: RegistrationDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const answer = (
    c: Context<KitEnv>,
    body: unknown,
    status: 200 | 201 | 400 | 401 | 404 | 409 | 415 | 429 | 500 | 503,
  ): Response => c.json(body, status, { 'cache-control': 'no-store', pragma: 'no-cache' });

  // Errors are rendered by each handler (guarded) rather than by this app's onError: hono wraps every route of a
  // sub-app with its own error handler in a new function, which would hide the operations documented on them.
  const refusal = (err: unknown, c: Context<KitEnv>): Response => {
    if (isStoreUnavailable(err)) {
      c.header('retry-after', String(RETRY_AFTER_SEC));
      return answer(c, { error: err.error, error_description: err.error_description }, 503);
    }
    if (!isAuthServerError(err) || err.status >= 500) {
      c.var.log.error({ err }, 'client registration failed');
      return answer(c, { error: 'server_error' }, 500);
    }
    // An unknown client at the configuration endpoint is an invalid token (RFC 7592 §2.1): a client must not learn
    // which ids exist.
    const code = err.code === 'unknown_client' ? 'invalid_token' : err.code;
    if (code === 'invalid_token') {
      c.header(
        'www-authenticate',
        bearer(c) === undefined ? 'Bearer realm="trellis"' : 'Bearer realm="trellis", error="invalid_token"',
      );
      return answer(c, { error: code, error_description: err.message }, 401);
    }
    return answer(c, { error: code, error_description: err.message }, err.status as 400 | 404 | 409 | 415 | 429);
  };
  const guarded =
    (handler: (c: Context<KitEnv>) => Promise<Response>) =>
    async (c: Context<KitEnv>): Promise<Response> => {
      try {
        return await handler(c);
      } catch (err) {
        return refusal(err, c);
      }
    };

  app.use(async (c, next) => {
    if (deps.initialAccessToken === undefined) {
      return refusal(
        new AuthServerError(
          'registration_disabled',
          'dynamic client registration is off; set AUTH_REGISTRATION_TOKEN to turn it on',
        ),
        c,
      );
    }
    return next();
  });

  const clientUri = (clientId: string): string =>
    new URL(`${REGISTRATION_PATH}/${encodeURIComponent(clientId)}`, deps.issuer()).href;

  app.post(
    '/',
    documented(
      registration(
        {
          summary: 'Registers a client (RFC 7591) with the initial access token; the answer holds its secrets once',
          operationId: 'registerClient',
          responses: { 201: { description: 'registered', content: REGISTRATION, links: LINKS } },
        },
        true,
      ),
      guarded(async (c) => {
        const token = bearer(c);
        if (token === undefined) {
          throw new AuthServerError('invalid_token', 'send the initial access token as Authorization: Bearer <token>');
        }
        if (!(await checkOperatorToken(c, deps.guard, 'registration-token', token, deps.initialAccessToken ?? ''))) {
          throw new AuthServerError('invalid_token', 'the initial access token is not valid');
        }
        const metadata = deps.clients.prepareRegistration(await metadataOf(c));
        checkRegistrationPolicy(metadata, deps.policy);
        await deps.checkMetadata(metadata);
        const registered = await deps.clients.register(metadata);
        const { registration_access_token: issued, ...rest } = registered;
        c.var.log.info({ clientId: registered.client_id }, 'client registered');
        return answer(c, information(rest, clientUri(registered.client_id), issued ?? ''), 201);
      }),
    ),
  );

  /** The client of the URL, when the request carries its registration access token (RFC 7592 §2). */
  const authorized = async (c: Context<KitEnv>): Promise<{ clientId: string; token: string }> => {
    const clientId = c.req.param('clientId') ?? '';
    const token = bearer(c);
    if (token === undefined) {
      throw new AuthServerError('invalid_token', 'send the registration access token as Authorization: Bearer <token>');
    }
    if (!(await deps.clients.verifyRegistrationToken(clientId, token))) {
      throw new AuthServerError('invalid_token', 'the registration access token is not valid for this client');
    }
    return { clientId, token };
  };

  app.get(
    '/:clientId',
    documented(
      registration(
        {
          summary: 'Reads a registration (RFC 7592 §2.1) with its registration access token',
          operationId: 'readRegistration',
          parameters: [CLIENT_ID],
          responses: { 200: { description: 'the registration', content: REGISTRATION } },
        },
        false,
      ),
      guarded(async (c) => {
        const { clientId, token } = await authorized(c);
        return answer(c, information(await deps.clients.registration(clientId), clientUri(clientId), token), 200);
      }),
    ),
  );

  app.put(
    '/:clientId',
    documented(
      registration(
        {
          summary: 'Replaces a registration’s metadata (RFC 7592 §2.2); client_id must be this client’s',
          operationId: 'updateRegistration',
          parameters: [CLIENT_ID],
          responses: { 200: { description: 'the registration as updated', content: REGISTRATION } },
        },
        true,
      ),
      guarded(async (c) => {
        const { clientId, token } = await authorized(c);
        const input = await metadataOf(c);
        const server = SERVER_FIELDS.find((f) => f in input);
        if (server !== undefined) {
          throw new AuthServerError('invalid_client_metadata', `an update must not include ${server}`);
        }
        if (input.client_id !== clientId) {
          throw new AuthServerError('invalid_client_metadata', `client_id must be this client's id, ${clientId}`);
        }
        // A client may send its secret back but never choose a new one (RFC 7592 §2.2).
        if (
          'client_secret' in input &&
          (typeof input.client_secret !== 'string' || !(await deps.clients.verifySecret(clientId, input.client_secret)))
        ) {
          throw new AuthServerError('invalid_client_metadata', 'client_secret does not match the current secret');
        }
        const { client_secret: _secret, ...fields } = input;
        const metadata = validateClientInput(fields, () => clientId);
        // The same policy as on registration: the registration access token must not be a way to more scopes or hosts.
        checkRegistrationPolicy(metadata, deps.policy);
        await deps.checkMetadata(metadata);
        const updated = await deps.clients.update(clientId, metadata);
        c.var.log.info({ clientId }, 'client registration updated');
        return answer(c, information(updated, clientUri(clientId), token), 200);
      }),
    ),
  );

  app.delete(
    '/:clientId',
    documented(
      registration(
        {
          summary: 'Removes a registration (RFC 7592 §2.3)',
          operationId: 'deleteRegistration',
          parameters: [CLIENT_ID],
          responses: { 204: { description: 'removed' } },
        },
        false,
      ),
      guarded(async (c) => {
        const { clientId } = await authorized(c);
        await deps.clients.remove(clientId);
        c.var.log.info({ clientId }, 'client registration deleted');
        return c.body(null, 204, { 'cache-control': 'no-store', pragma: 'no-cache' });
      }),
    ),
  );

  return app;
}
