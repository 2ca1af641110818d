// The policy of dynamic client registration: the scopes, hosts, grants and methods a client may ask for.
import { AuthServerError } from '../errors.ts';
import type { AuthMethod, ClientMetadata, GrantType } from './store.ts';

/**
 * What a dynamically registered client (RFC 7591/7592) may ask for, checked on registration AND on every update, so
 * neither the initial access token nor a client's own registration access token is a way to more than this. Like
 * Keycloak's client registration policies ("Allowed Client Scopes", "Trusted Hosts"); admin-registered clients
 * (`/admin/clients`, `trellis clients`) are not bound by it.
 */
export interface RegistrationPolicy {
  readonly scopes: readonly string[];
  /** Host names redirect URIs may point to; `*.example.org` allows every subdomain (not example.org itself). */
  readonly redirectHosts: readonly string[];
  readonly grantTypes: readonly GrantType[];
  readonly authMethods: readonly AuthMethod[];
}

/** Hosts where plain http is acceptable (RFC 8252 §7.3, OAuth 2.1): the traffic never leaves the machine. */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The defaults: the OpenID scopes, refresh tokens (offline_access) and the read-only scopes of the API (those ending
 * in `:read`), since a write scope is a privilege an administrator grants, not one a registration token should
 * carry; redirect URIs on this machine only, until the operator names trusted hosts; the grants and client
 * authentication methods the server supports, the device flow excepted (a phishing vector better granted by hand).
 */
export function defaultRegistrationScopes(resourceScopes: readonly string[]): string[] {
  return ['openid', 'profile', 'email', 'offline_access', ...resourceScopes.filter((s) => s.endsWith(':read'))];
}
export const DEFAULT_REDIRECT_HOSTS: readonly string[] = [...LOOPBACK];
export const DEFAULT_REGISTRATION_GRANT_TYPES: readonly GrantType[] = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
];
export const DEFAULT_REGISTRATION_AUTH_METHODS: readonly AuthMethod[] = [
  'client_secret_basic',
  'client_secret_post',
  'none',
];

function hostAllowed(hostname: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) => {
    const pattern = entry.toLowerCase();
    return pattern.startsWith('*.') ? hostname.endsWith(pattern.slice(1)) : hostname === pattern;
  });
}

function checkUris(uris: readonly string[], field: string, policy: RegistrationPolicy): void {
  for (const uri of uris) {
    // validateClientInput already made sure these are absolute http(s) URIs.
    const url = new URL(uri);
    const host = url.hostname.toLowerCase();
    if (url.protocol === 'http:' && !LOOPBACK.has(host)) {
      throw new AuthServerError(
        'invalid_redirect_uri',
        `${field}: ${JSON.stringify(uri)} must use https (plain http only for localhost, 127.0.0.1 and [::1])`,
      );
    }
    if (!hostAllowed(host, policy.redirectHosts)) {
      throw new AuthServerError(
        'invalid_redirect_uri',
        `${field}: the host ${host} is not trusted for registered clients (allowed: ${policy.redirectHosts.join(', ')})`,
      );
    }
  }
}

/** Throws an {@link AuthServerError} (400, RFC 7591 code) naming the first metadata the policy refuses. */
export function checkRegistrationPolicy(metadata: ClientMetadata, policy: RegistrationPolicy): void {
  const scopes = metadata.scope.split(' ').filter((s) => s !== '');
  const refused = scopes.filter((s) => !policy.scopes.includes(s));
  if (refused.length > 0) {
    throw new AuthServerError(
      'invalid_client_metadata',
      `scope ${refused.join(' ')} is not allowed for registered clients (allowed: ${policy.scopes.join(' ')})`,
    );
  }
  const grant = metadata.grant_types.find((g) => !policy.grantTypes.includes(g));
  if (grant !== undefined) {
    throw new AuthServerError(
      'invalid_client_metadata',
      `grant_types: ${grant} is not allowed for registered clients (allowed: ${policy.grantTypes.join(', ')})`,
    );
  }
  if (!policy.authMethods.includes(metadata.token_endpoint_auth_method)) {
    throw new AuthServerError(
      'invalid_client_metadata',
      `token_endpoint_auth_method ${metadata.token_endpoint_auth_method} is not allowed for registered clients (allowed: ${policy.authMethods.join(', ')})`,
    );
  }
  checkUris(metadata.redirect_uris, 'redirect_uris', policy);
  checkUris(metadata.post_logout_redirect_uris, 'post_logout_redirect_uris', policy);
}
