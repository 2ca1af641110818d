// @trellis/clients/security: the OAuth 2.0 token client and the JWT guard for hono routes.
// The token client takes client-credentials tokens for calling protected services; the guard verifies JWT access
// tokens (RFC 9068) offline and answers refusals as RFC 6750 says.
export { bearerToken, quotedParam, wellFormedToken } from './bearer.ts';
export { SecurityError } from './errors.ts';
export type { SecurityErrorCode, SecurityErrorOptions } from './errors.ts';
export { requireAuth, requireScopes } from './guard.ts';
export { createTokenIntrospector } from './introspection.ts';
export type { TokenIntrospector, TokenIntrospectorOptions } from './introspection.ts';
export type { AuthEnv, RequireAuthOptions } from './guard.ts';
export type { ServerConnectionOptions } from './http.ts';
export { createTokenClient, withAccessToken } from './token-client.ts';
export type { AccessToken, ClientAuthMethod, TokenClient, TokenClientOptions } from './token-client.ts';
export { createTokenVerifier } from './verifier.ts';
export type { AccessTokenAlgorithm, AuthInfo, TokenVerifier, TokenVerifierOptions } from './verifier.ts';
