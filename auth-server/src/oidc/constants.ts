// The provider's paths and lifetimes that other modules need too.
// Kept apart from provider.ts so that code needing them does not load oidc-provider (the CLI's --help and the client
// and user commands stay fast, and quiet on runtimes oidc-provider warns about).
export const INTERACTION_PREFIX = '/oauth2/interaction';
/** Lifetime of ID tokens in seconds. */
export const ID_TOKEN_TTL = 3600;
/** RFC 7591 registration endpoint; RFC 7592 client configuration endpoints are `<path>/<client_id>`. */
export const REGISTRATION_PATH = '/oauth2/register';
/** The authorization endpoint and pushed authorization requests (RFC 9126), which take the same parameters. */
export const AUTHORIZATION_PATH = '/oauth2/authorize';
export const PAR_PATH = '/oauth2/par';
/** Lifetime of an Interaction (a sign-in in progress) in seconds; authorization-limits.ts counts within it. */
export const INTERACTION_TTL = 600;

/**
 * Where each of oidc-provider's endpoints lives: under `/oauth2/` so the gateway's one `/oauth2/**` route reaches all
 * of them. The provider is configured with this object, and the OpenAPI document (api-docs.ts) is made from it.
 */
export const PROVIDER_ROUTES = {
  authorization: AUTHORIZATION_PATH,
  token: '/oauth2/token',
  jwks: '/oauth2/jwks',
  introspection: '/oauth2/introspect',
  revocation: '/oauth2/revoke',
  userinfo: '/oauth2/userinfo',
  end_session: '/oauth2/logout',
  device_authorization: '/oauth2/device_authorization',
  code_verification: '/oauth2/device',
  pushed_authorization_request: PAR_PATH,
} as const;

/** oidc-provider serves discovery at these fixed paths (OpenID Connect Discovery and RFC 8414), not under /oauth2. */
export const DISCOVERY_PATHS = [
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
] as const;
