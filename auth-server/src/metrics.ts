// The auth server's own meters: tokens issued per grant type, token refusals per OAuth error, introspections, sign-ins.
import { counter, outcomeOf, type Metrics } from '@trellis/kit';

/**
 * What the auth server records; the provider's event listeners and the sign-in route get this, not prom-client.
 * Label values come from small closed sets (anything else is `other`): never a client id, a user name or a token.
 */
export interface AuthServerMetrics {
  /** A token response sent; `grantType` as the client posted it. */
  tokenIssued(grantType: unknown): void;
  /** A token request refused with this OAuth error code. */
  tokenRefused(error: unknown): void;
  /** An answered POST to the introspection or revocation endpoint, by its status. */
  endpointAnswered(endpoint: 'introspection' | 'revocation', status: number): void;
  /** A sign-in on the login page refused: wrong username or password, or too many attempts. */
  signInFailed(reason: 'bad_credentials' | 'throttled'): void;
}

const GRANT_TYPES = [
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
] as const;

// RFC 6749 §5.2, RFC 8628 §3.5, RFC 8707 and what oidc-provider's token endpoint answers besides.
const TOKEN_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'authorization_pending',
  'slow_down',
  'expired_token',
  'access_denied',
  'invalid_dpop_proof',
  'use_dpop_nonce',
  'server_error',
] as const;

type Inc = { inc(value?: number): void };

/** Children for each known value and `other`, bound once: the token endpoint's path only looks one up. */
function bound(family: { labels(labels: Record<string, string>): Inc }, label: string, known: readonly string[]) {
  const children = new Map<string, Inc>();
  for (const v of [...known, 'other']) {
    const child = family.labels({ [label]: v });
    child.inc(0);
    children.set(v, child);
  }
  const other = children.get('other') as Inc;
  return (v: unknown): Inc => (typeof v === 'string' ? children.get(v) : undefined) ?? other;
}

/** The recorder on a service's meters. */
export function authServerMetrics(metrics: Metrics): AuthServerMetrics {
  const issued = bound(
    counter(metrics, 'trellis_auth_tokens_issued_total', 'Token responses sent, by grant type', ['grant_type']),
    'grant_type',
    GRANT_TYPES,
  );
  const refused = bound(
    counter(metrics, 'trellis_auth_token_failures_total', 'Token requests refused, by OAuth error code', ['error']),
    'error',
    TOKEN_ERRORS,
  );
  const outcomes = ['SUCCESS', 'CLIENT_ERROR', 'SERVER_ERROR'];
  const introspections = bound(
    counter(metrics, 'trellis_auth_introspections_total', 'Token introspection requests answered (RFC 7662)', [
      'outcome',
    ]),
    'outcome',
    outcomes,
  );
  const revocations = bound(
    counter(metrics, 'trellis_auth_revocations_total', 'Token revocation requests answered (RFC 7009)', ['outcome']),
    'outcome',
    outcomes,
  );
  const signIns = bound(
    counter(metrics, 'trellis_auth_sign_in_failures_total', 'Sign-ins refused on the login page', ['reason']),
    'reason',
    ['bad_credentials', 'throttled'],
  );
  return {
    tokenIssued: (grantType) => issued(grantType).inc(),
    tokenRefused: (error) => refused(error).inc(),
    endpointAnswered: (endpoint, status) =>
      (endpoint === 'introspection' ? introspections : revocations)(outcomeOf(status)).inc(),
    signInFailed: (reason) => signIns(reason).inc(),
  };
}
