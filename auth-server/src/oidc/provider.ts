// The oidc-provider instance: endpoints, grants, token formats, resource indicators and client checks.
import type { IncomingMessage } from 'node:http';
import Provider, {
  errors,
  type Account,
  type AdapterConstructor,
  type ClientInstance,
  type KoaMiddlewareContext,
} from 'oidc-provider';
import { DISCOVERY_PATHS, ID_TOKEN_TTL, INTERACTION_PREFIX, INTERACTION_TTL, PROVIDER_ROUTES } from './constants.ts';
import { errorCode, isClientGone, type Logger } from '@trellis/kit';
import type { AuthServerMetrics } from '../metrics.ts';
import type { PrivateJwk, SigningAlg } from '../crypto/signing-keys.ts';
import { EXTERNAL_SIGNING_ACK, LocalSigningKey } from '../crypto/local-signing-key.ts';
import { SCRIPT_HASH_COLLECTOR } from '../views/page-headers.ts';
import { messagePage } from '../views/page-templates.ts';
import { providerPages } from './provider-pages.ts';
import { jwtAccessTokenMiddleware, type AccessTokenRecords } from './jwt-access-tokens.ts';
import { FailureThrottle, tooManyAttempts } from './throttle.ts';
import { isStoreUnavailable, RETRY_AFTER_SEC } from '../store/unavailable.ts';

/** Where each endpoint lives (constants.ts: the OpenAPI document is made from the same object). */
export const ROUTES = PROVIDER_ROUTES;

/** The API JWT access tokens are for (RFC 8707 resource indicator) and the scopes it knows. */
export interface ResourceServer {
  /** The resource indicator clients may send; an absolute URI. */
  readonly indicator: string;
  /** The `aud` claim resource servers check. */
  readonly audience: string;
  readonly scopes: readonly string[];
}

export interface ProviderOptions {
  readonly issuer: string;
  readonly adapter: AdapterConstructor;
  readonly jwks: readonly PrivateJwk[];
  readonly cookieKeys: readonly string[];
  readonly resource: ResourceServer;
  readonly signingAlg: SigningAlg;
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** Seconds. */
  readonly refreshTokenTtl: number;
  readonly findAccount: (accountId: string) => Promise<Account | undefined>;
  /** Checks a presented secret against the stored hash (the Client adapter hands the provider hashes). */
  readonly verifyClientSecret: (storedHash: string, presented: string) => boolean;
  readonly throttle: FailureThrottle;
  /** Wrong user codes entered on the device page, per source address (see USER_CODE_FAILURES_PER_SOURCE). */
  readonly userCodeThrottle: FailureThrottle;
  /** The throttle key part of the address a request came from (see proxies.ts: trusted proxies only). */
  readonly sourceOf: (req: IncomingMessage) => string;
  /**
   * Whether a confidential client may introspect tokens issued to other clients (a designated resource server); every
   * client may introspect its own.
   */
  readonly mayIntrospectAny: (clientId: string) => boolean;
  readonly logger: Logger;
  /** Revocations and grants of JWT access tokens, by jti, until the token expires. */
  readonly accessTokenRecords: AccessTokenRecords;
  /** Path of the RFC 7591 registration endpoint (served by Trellis, not the provider) to publish in discovery. */
  readonly registrationPath?: string | undefined;
  /** The server's own meters, fed from the provider's events; undefined with metrics off. */
  readonly metrics?: AuthServerMetrics | undefined;
  /** Told when a JWT to introspect or revoke names a key this provider does not hold (see jwt-access-tokens.ts). */
  readonly unknownKey?: (() => void) | undefined;
}

/**
 * Builds the oidc-provider instance. Nothing here does I/O: storage comes in through the adapter, keys as JWKs.
 *
 * @example
 * const provider = createProvider({ issuer: 'http://localhost:9999', adapter, jwks, ... });
 */
export function createProvider(options: ProviderOptions): Provider {
  const { resource } = options;
  const mayIntrospect = (caller: { clientId: string; clientAuthMethod: string }, owner: string | undefined): boolean =>
    caller.clientId === owner || (caller.clientAuthMethod !== 'none' && options.mayIntrospectAny(caller.clientId));
  const isResourceScope = (s: string): boolean => resource.scopes.includes(s);
  const provider = new Provider(options.issuer, {
    adapter: options.adapter,
    // Signed with node:crypto rather than through jose's WebCrypto (local-signing-key.ts says why).
    jwks: { keys: options.jwks.map((k) => new LocalSigningKey(k)) },
    cookies: { keys: [...options.cookieKeys] },
    findAccount: (_ctx: unknown, id: string) => options.findAccount(id),
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
    scopes: ['openid', 'offline_access', 'profile', 'email', ...resource.scopes],
    // client_secret_jwt and HS* algorithms would use the stored value as an HMAC key; ours is a hash.
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    // The provider's default is RS256, which it refuses for every client when only ES256 keys exist.
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: options.signingAlg,
    },
    enabledJWA: {
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'],
    },
    routes: ROUTES,
    // Absolute, from the configured issuer like every other URL the provider writes.
    interactions: {
      url: (_ctx: unknown, interaction: { uid: string }) =>
        new URL(`${INTERACTION_PREFIX}/${interaction.uid}`, options.issuer).href,
    },
    pkce: { required: (_ctx: unknown, client: { clientAuthMethod: string }) => client.clientAuthMethod === 'none' },
    rotateRefreshToken: true,
    // Errors that cannot go back to the client (unknown client, unregistered redirect_uri) as our own page: the
    // OAuth error code and description only, never internals.
    renderError(ctx: { type: string; body: unknown }, out: { error?: string; error_description?: string }) {
      ctx.type = 'html';
      ctx.body = messagePage('Sign-in failed', `${out.error ?? 'server_error'}: ${out.error_description ?? ''}`);
    },
    formats: {
      customizers: {
        // oidc-provider types JWT access tokens `at+jwt` (RFC 9068), which Spring Security's resource server
        // (NimbusJwtDecoder with only issuer-uri, Boot 3 and 4) refuses: it accepts `JWT` or no typ, and Spring
        // Authorization Server itself issues `JWT`. Spring services must take our tokens unmodified
        // (interop/test/spring-boot.e2e.test.ts), so we type them as Spring's own server does.
        async jwt(
          _ctx: unknown,
          token: { grantId?: string },
          jwt: { header?: Record<string, unknown>; payload: { jti?: unknown; exp?: unknown } },
        ) {
          jwt.header = { ...jwt.header, typ: 'JWT' };
          // A user's token dies with its grant at introspection (see jwt-access-tokens.ts). Client credentials tokens
          // have no grant, so the token endpoint's busiest path writes nothing here.
          const { jti, exp } = jwt.payload;
          if (token.grantId !== undefined && typeof jti === 'string' && typeof exp === 'number') {
            const ttl = Math.max(1, exp - Math.floor(Date.now() / 1000) + 60);
            await options.accessTokenRecords.linkGrant(jti, token.grantId, ttl);
          }
        },
      },
    },
    ttl: {
      AccessToken: options.accessTokenTtl,
      ClientCredentials: options.accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      DeviceCode: 600,
      Interaction: INTERACTION_TTL,
      RefreshToken: options.refreshTokenTtl,
      Grant: options.refreshTokenTtl,
      Session: options.refreshTokenTtl,
    },
    features: {
      devInteractions: { enabled: false },
      externalSigningSupport: { enabled: true, ack: EXTERNAL_SIGNING_ACK },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 §4: without this any client could ask about any token it found (a validity oracle). Foreign tokens
        // are answered inactive, as if unknown, so the answer tells nothing.
        allowedPolicy: (
          _ctx: unknown,
          client: ClientInstance & { clientAuthMethod: string },
          token: { clientId?: string },
        ) => mayIntrospect(client, token.clientId),
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client learns nothing about tokens that are not its own. The provider's default answers
        // another confidential client's attempt with invalid_request (telling it the token is real and live); here
        // it is left alone with the 200 an unknown token gets (jwt-access-tokens.ts does the same for JWTs).
        allowedPolicy: (_ctx: unknown, client: ClientInstance, token: { clientId?: string }) =>
          token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true, ...providerPages.rpInitiatedLogout },
      deviceFlow: { enabled: true, ...providerPages.deviceFlow },
      resourceIndicators: {
        enabled: true,
        // Tokens for the API unless only OpenID scopes were asked for: those get an opaque token for userinfo.
        defaultResource(ctx: { oidc: { params?: { scope?: unknown; grant_type?: unknown } } }) {
          const params = ctx.oidc.params ?? {};
          if (params.grant_type === 'client_credentials') return resource.indicator;
          const scope = typeof params.scope === 'string' ? params.scope.split(' ') : [];
          return scope.some(isResourceScope) ? resource.indicator : undefined;
        },
        getResourceServerInfo(_ctx: unknown, indicator: string) {
          if (indicator !== resource.indicator) throw new errors.InvalidTarget(`unknown resource ${indicator}`);
          return {
            scope: resource.scopes.join(' '),
            audience: resource.audience,
            accessTokenTTL: options.accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: options.signingAlg } },
          };
        },
        useGrantedResource: () => true,
      },
    },
  });
  // The mount (pinToIssuer) replaces every request's X-Forwarded-Proto/Host with the configured issuer's, so in proxy
  // mode the provider builds each URL it writes from the issuer, never from what a caller sent.
  provider.proxy = true;

  // The endpoints' own error handlers answer an unreachable database as the error says (503 temporarily_unavailable,
  // store/unavailable.ts); this adds when to try again, and catches the error where they do not reach (the JWT
  // introspection below), as JSON, not Koa's plain text. First, so it wraps every other middleware.
  provider.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (!isStoreUnavailable(err)) throw err;
      ctx.status = 503;
      ctx.set({ 'cache-control': 'no-store' });
      ctx.body = { error: err.error, error_description: err.error_description };
    }
    if (ctx.status === 503) ctx.set({ 'retry-after': String(RETRY_AFTER_SEC) });
    // A path hono routed here by its resolved form (`/x/../oauth2/token`, `/oauth2/%74oken`) that the provider, which
    // matches the path as sent, does not serve: the kit's JSON 404 rather than Koa's bare text.
    if (ctx.status === 404 && ctx.body == null) {
      ctx.body = { error: 'not_found', message: `no route for ${ctx.method} ${ctx.path}` };
      ctx.status = 404;
    }
  });

  const { verifyClientSecret, throttle, sourceOf } = options;
  const log = options.logger;
  // oidc-provider compares client_secret itself with a constant-time equality on the stored value; the documented
  // extension point for hashed secrets is this prototype method (panva/node-oidc-provider#631). After too many
  // failures for one client from one source, that source is refused (429) before any comparison, right secret or
  // wrong; other sources (the legitimate client among them) are not affected.
  // The secret is checked (a keyed hash: cheap) and its outcome then counted in the shared store, every instance's
  // failures together; the provider awaits this method, and a refusal thrown here reaches its error handler.
  provider.Client.prototype.compareClientSecret = async function compareClientSecret(
    this: ClientInstance,
    presented: string,
  ): Promise<boolean> {
    // The request being served (oidc-provider keeps it in an AsyncLocalStorage); absent only outside a request.
    const ctx = Provider.ctx;
    const key = FailureThrottle.key(this.clientId, ctx === undefined ? 'unknown' : sourceOf(ctx.req));
    const stored = this.clientSecret;
    const attempt = await throttle.verify(key, () => stored !== undefined && verifyClientSecret(stored, presented));
    if (attempt.refused) {
      ctx?.set({ 'retry-after': String(attempt.retryAfterSec) });
      // RFC 6749 §5.2 has no code for this; invalid_request is one every client handles, and it does not say the
      // secret was wrong (invalid_client would make a client drop a good secret). The status says to wait.
      throw new errors.InvalidRequest(tooManyAttempts(attempt.retryAfterSec), 429);
    }
    return attempt.ok;
  };

  // A user code is short (8 letters from 20: about 34.6 bits) and the device page is anonymous, so wrong codes are
  // limited per source, as wrong secrets are: admitted before the lookup (parallel guesses count), refused with 429
  // and Retry-After on the code page once over the limit. Keyed by source alone, since a guesser tries many codes; a
  // right code does not clear the count (a guesser could start device flows of its own). Other sources, the user
  // with the device among them, are not affected. findByUserCode is only called by the code form's POST.
  const { userCodeThrottle } = options;
  const { DeviceCode } = provider;
  const findByUserCode = DeviceCode.findByUserCode.bind(DeviceCode);
  DeviceCode.findByUserCode = async (userCode, findOptions) => {
    const ctx = Provider.ctx;
    const attempt = await userCodeThrottle.admit(ctx === undefined ? 'unknown' : sourceOf(ctx.req));
    if (attempt.refused) {
      ctx?.set({ 'retry-after': String(attempt.retryAfterSec) });
      throw new errors.InvalidRequest(tooManyAttempts(attempt.retryAfterSec), 429);
    }
    let found: object | undefined;
    try {
      found = await findByUserCode(userCode, findOptions);
    } finally {
      // A lookup that throws counts as a failure: an attempt left in flight would hold its slot for good.
      if (found === undefined) attempt.failed();
      else attempt.succeeded();
    }
    return found;
  };

  // oidc-provider adds the hash of each inline script it writes (form_post's auto-submit on the authorization endpoint
  // and its resume path; the auto-submitted logout a browser without a session gets) to this script-src; the page
  // headers (views/page-headers.ts) then allow exactly those, and drop the collector from non-HTML answers. The token
  // endpoint's path pays two comparisons.
  provider.use((ctx, next) => {
    if (ctx.path.startsWith(ROUTES.authorization) || ctx.path === ROUTES.end_session) {
      ctx.set({ 'content-security-policy': SCRIPT_HASH_COLLECTOR });
    }
    return next();
  });
  // After a refused code (a forged or missing xsrf field, an unknown resume uid) oidc-provider re-renders the code
  // form and then fails to save a session the browser never had (no cookie, or one whose session is gone): "persist
  // can only be called on previously persisted Sessions", a 500 in plain text. The form is started over instead.
  provider.use(async (ctx, next) => {
    if (ctx.path !== ROUTES.code_verification && !ctx.path.startsWith(`${ROUTES.code_verification}/`)) return next();
    try {
      await next();
    } catch (err) {
      // Only that failure, and never on the form's own GET (a redirect to itself would loop): anything else is a
      // real server error and stays one.
      const unsaved = err instanceof TypeError && err.message.includes('previously persisted');
      if (!unsaved || (ctx.method === 'GET' && ctx.path === ROUTES.code_verification)) throw err;
      log.info('device code form without a session: started over');
      ctx.redirect(ctx.oidc?.urlFor('code_verification') ?? ROUTES.code_verification);
      ctx.status = 303;
    }
  });
  // RFC 7662/7009 for our own JWT access tokens (oidc-provider handles only opaque ones); see jwt-access-tokens.ts.
  const structured = jwtAccessTokenMiddleware({
    issuer: options.issuer,
    audience: resource.audience,
    jwks: options.jwks,
    algorithms: [...new Set(options.jwks.map((k) => k.alg))],
    records: options.accessTokenRecords,
    mayIntrospect,
    clientExists: async (clientId) => (await provider.Client.find(clientId)) !== undefined,
    grantExists: async (grantId) => (await provider.Grant.find(grantId)) !== undefined,
    unknownKey: options.unknownKey,
  });
  const { metrics } = options;
  // With metrics on, the answer of each introspection or revocation is counted once it is written; a throw here is
  // past the endpoint's own error handler (a 500), so it is counted as one.
  const counted = async (ctx: KoaMiddlewareContext, next: () => Promise<void>): Promise<void> => {
    const endpoint = ctx.path === ROUTES.introspection ? 'introspection' : 'revocation';
    let status = 500;
    try {
      await structured(ctx, next);
      status = ctx.status;
    } finally {
      metrics?.endpointAnswered(endpoint, status);
    }
  };
  const tokenEndpoints = metrics === undefined ? structured : counted;
  provider.use((ctx, next) =>
    ctx.path === ROUTES.introspection || ctx.path === ROUTES.revocation ? tokenEndpoints(ctx, next) : next(),
  );

  const { registrationPath } = options;
  if (registrationPath !== undefined) {
    // Registration is Trellis's own route (clients live in the registry, secrets hashed), so the provider's
    // registration feature stays off and discovery learns the endpoint here, on the same origin as the others.
    // Other requests (the token endpoint's load among them) pass straight through, without an extra await.
    const addEndpoint = async (ctx: KoaMiddlewareContext, next: () => Promise<void>): Promise<void> => {
      await next();
      const body = ctx.body;
      if (ctx.oidc?.route === 'discovery' && ctx.status === 200 && typeof body === 'object' && body !== null) {
        (body as Record<string, unknown>).registration_endpoint = new URL(
          registrationPath,
          ctx.oidc.urlFor('token'),
        ).href;
      }
    };
    // Both discovery documents (OpenID Connect Discovery and RFC 8414) name it.
    provider.use((ctx, next) =>
      DISCOVERY_PATHS.some((path) => ctx.path.endsWith(path)) ? addEndpoint(ctx, next) : next(),
    );
  }

  provider.on('server_error', (_ctx, err) => log.error({ err }, 'oidc-provider server error'));
  // Koa (the provider is a Koa app) writes each error it sees to stderr as indented plain text unless the app has a
  // listener, so a client leaving mid-body (a parse error, a reset) put a stack in the JSON log each time. Errors
  // already answered with their reason (4xx) need no line; a client gone is one line at info; anything else is a
  // server error.
  provider.on('error', (err) => {
    const status = (err as { status?: unknown }).status;
    if (typeof status === 'number' && status < 500) return;
    if (isClientGone(err)) log.info({ error: errorCode(err) }, 'client connection ended before the answer');
    else log.error({ err }, 'oidc-provider request failed');
  });
  // Refusals are worth a line (who, which error), never the presented credentials.
  provider.on('grant.error', (ctx, err) =>
    log.info({ clientId: ctx.oidc?.client?.clientId, error: oauthError(err) }, 'token request refused'),
  );
  if (metrics !== undefined) {
    provider.on('grant.success', (ctx) => metrics.tokenIssued(ctx.oidc?.params?.grant_type));
    provider.on('grant.error', (_ctx, err) => metrics.tokenRefused(oauthError(err)));
    // The provider reports its own failures as server_error instead of grant.error, whatever the endpoint.
    provider.on('server_error', (ctx) => {
      if (ctx.oidc?.route === 'token') metrics.tokenRefused('server_error');
    });
  }
  return provider;
}

/**
 * The error for a refresh token, code or device code used twice at once (the storage's conditional consume refused
 * the second): what oidc-provider answers when it sees a replay itself.
 */
export const replayedGrant = (model: string): Error => new errors.InvalidGrant(`${model} already used`);
/** The adapter's error for a request whose values no store can keep (a NUL byte): 400 invalid_request. */
export const invalidInput = (message: string): Error => new errors.InvalidRequest(message);

function oauthError(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'error' in err && typeof err.error === 'string'
    ? err.error
    : undefined;
}

export { ID_TOKEN_TTL, INTERACTION_PREFIX } from './constants.ts';
