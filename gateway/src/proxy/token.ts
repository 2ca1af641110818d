// Per-route bearer token checks (TokenCheck): offline with the SDK's verifier, or also by introspection.

// Per-route token checks with the SDK's verifier (signature via cached JWKS, issuer, audience, expiry), answered as
// RFC 6750 asks: 401 with a Bearer challenge for a missing or bad token, 403 with the scope for a weak one. Routes
// that must see a revocation at once (TokenCheck's `introspect: true`) also ask the issuer's introspection endpoint
// (RFC 7662) on every request, with nothing cached.
import {
  bearerToken,
  quotedParam,
  SecurityError,
  wellFormedToken,
  type AuthInfo,
  type TokenIntrospector,
  type TokenVerifier,
} from '@trellis/clients/security';
import { GatewayError } from '../errors.ts';

function unauthorized(routeId: string, message: string, challenge: string): GatewayError {
  return new GatewayError('unauthorized', message, {
    route: routeId,
    headers: { 'www-authenticate': challenge, 'cache-control': 'no-store' },
  });
}

/** A verifier's or introspector's refusal as the gateway answers it: 401 for the token, 503 for the issuer. */
function refusal(err: unknown, routeId: string): GatewayError {
  if (err instanceof SecurityError && err.status < 500) {
    return unauthorized(
      routeId,
      err.message,
      `Bearer error="invalid_token", error_description=${quotedParam(err.message)}`,
    );
  }
  return new GatewayError('service_unavailable', 'tokens cannot be verified now (the issuer cannot be reached)', {
    route: routeId,
    cause: err,
  });
}

/**
 * Verifies the request's bearer token for a route: what the token says (at once for a token verified before, else a
 * promise), or a GatewayError, thrown or rejected. A malformed Authorization header is answered 401 like a bad token
 * (the client must get a new one either way). With an `introspector`, a token that passes the offline checks is also
 * asked about at the introspection endpoint, every time, and its answer's scopes count.
 */
export function checkToken(
  verifier: TokenVerifier,
  authorization: string | undefined,
  scopes: readonly string[],
  routeId: string,
  introspector?: TokenIntrospector,
): AuthInfo | Promise<AuthInfo> {
  let token: string;
  try {
    token = bearerToken(authorization);
  } catch {
    // §3.1: no error code when the client sent no bearer credentials; it may not know the route is protected.
    throw unauthorized(routeId, 'a bearer token is required', 'Bearer realm="gateway"');
  }
  // A token verified before (a client keeps its token for its lifetime) skips the syntax check and the await.
  const known = verifier.cached(token);
  if (known !== undefined) {
    return introspector === undefined
      ? grantedScopes(known, scopes, routeId)
      : stillActive(introspector, token, scopes, routeId);
  }
  try {
    wellFormedToken(token);
  } catch {
    throw unauthorized(
      routeId,
      'the Authorization header must be Bearer followed by one token',
      'Bearer error="invalid_token", error_description="malformed Authorization header"',
    );
  }
  return verified(verifier, token, scopes, routeId, introspector);
}

async function verified(
  verifier: TokenVerifier,
  token: string,
  scopes: readonly string[],
  routeId: string,
  introspector: TokenIntrospector | undefined,
): Promise<AuthInfo> {
  let auth: AuthInfo;
  try {
    auth = await verifier.verify(token);
  } catch (err) {
    throw refusal(err, routeId);
  }
  // Only tokens that pass the offline checks reach the issuer: forged ones cannot turn into introspection load.
  if (introspector !== undefined) return stillActive(introspector, token, scopes, routeId);
  return grantedScopes(auth, scopes, routeId);
}

async function stillActive(
  introspector: TokenIntrospector,
  token: string,
  scopes: readonly string[],
  routeId: string,
): Promise<AuthInfo> {
  let auth: AuthInfo;
  try {
    auth = await introspector.introspect(token);
  } catch (err) {
    throw refusal(err, routeId);
  }
  return grantedScopes(auth, scopes, routeId);
}

function grantedScopes(auth: AuthInfo, scopes: readonly string[], routeId: string): AuthInfo {
  // A loop, not filter(): granted is every request's case, and it then allocates nothing.
  for (const scope of scopes) {
    if (!auth.scopes.has(scope)) {
      const missing = scopes.filter((s) => !auth.scopes.has(s));
      throw new GatewayError('forbidden', `the token lacks the scope ${missing.join(' ')}`, {
        route: routeId,
        headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope=${quotedParam(scopes.join(' '))}` },
      });
    }
  }
  return auth;
}
