// Kept apart from provider.ts so that code needing them does not load oidc-provider (the CLI's --help and the client
// and user commands stay fast, and quiet on runtimes oidc-provider warns about).
export const INTERACTION_PREFIX = '/oauth2/interaction';
/** Lifetime of ID tokens in seconds. */
export const ID_TOKEN_TTL = 3600;
