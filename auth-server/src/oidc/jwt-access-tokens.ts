// Introspection and revocation of the server's own JWT access tokens, which oidc-provider refuses to handle.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { KoaMiddlewareContext } from 'oidc-provider';
import type { PrivateJwk, SigningAlg } from '../crypto/signing-keys.ts';

/**
 * What the server keeps about its JWT access tokens, by `jti`, each entry until the token would have expired anyway:
 * revocations, and the grant a user's token came from. Persistent (the SQLite storage in the embedded default), so a
 * restart does not bring a revoked token back.
 */
export interface AccessTokenRecords {
  revoke(jti: string, clientId: string, expiresInSec: number): void | Promise<void>;
  isRevoked(jti: string): boolean | Promise<boolean>;
  /** Tokens issued from a grant (authorization code, refresh, device flow) die with it, as opaque ones do. */
  linkGrant(jti: string, grantId: string, expiresInSec: number): void | Promise<void>;
  grantOf(jti: string): string | undefined | Promise<string | undefined>;
}

export interface JwtAccessTokenOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Every key the provider holds: the current one and retired ones still within their tokens' lifetime. */
  readonly jwks: readonly PrivateJwk[];
  readonly algorithms: readonly SigningAlg[];
  readonly records: AccessTokenRecords;
  /** Whether `caller` may learn about a token issued to `owner` (RFC 7662 §4); refused ones are answered inactive. */
  mayIntrospect(caller: { clientId: string; clientAuthMethod: string }, owner: string): boolean;
  /** Whether the client a token was issued to is still registered (a deleted client's tokens are inactive). */
  clientExists(clientId: string): Promise<boolean>;
  /** Whether a grant still stands (revoking a refresh token, a replayed code or a logout ends it). */
  grantExists(grantId: string): Promise<boolean>;
  /**
   * Told when a token names a key this provider does not hold: another instance may have rotated, and this one
   * re-reads its keys (the token itself is answered inactive; the next ask finds the new key).
   */
  readonly unknownKey?: (() => void) | undefined;
  readonly now?: () => number;
}

interface Verified {
  readonly claims: JWTPayload & { client_id: string; jti: string; exp: number };
}

/** oidc-provider's answer to a JWT at the introspection and revocation endpoints, after client authentication. */
const STRUCTURED = 'unsupported_token_type';

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) of the server's own JWT access tokens, which oidc-provider
 * refuses ("Structured JWT Tokens cannot be introspected"): the resource servers and the gateway that must see a
 * revocation at once ask the introspection endpoint, as Keycloak's and Spring Authorization Server's do.
 *
 * A post-processing middleware: the provider authenticates the client and answers `unsupported_token_type`; only
 * then, with the client known, the token is verified here against the provider's own keys (retired keys included)
 * and the revocation list. Every other request passes through untouched, so the token endpoint pays nothing.
 */
export function jwtAccessTokenMiddleware(options: JwtAccessTokenOptions) {
  const keys = new Map<string, KeyObject>();
  for (const jwk of options.jwks) {
    keys.set(jwk.kid, createPublicKey(createPrivateKey({ key: { ...jwk }, format: 'jwk' })));
  }
  const now = options.now ?? Date.now;

  /** The token's claims when it is one of ours, signed by a key we hold, unexpired; undefined otherwise. */
  async function verify(token: string): Promise<Verified | undefined> {
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          const key = header.kid === undefined ? undefined : keys.get(header.kid);
          if (key === undefined) {
            if (header.kid !== undefined) options.unknownKey?.();
            throw new joseErrors.JWKSNoMatchingKey();
          }
          return key;
        },
        {
          issuer: options.issuer,
          audience: options.audience,
          algorithms: [...options.algorithms],
          currentDate: new Date(now()),
          requiredClaims: ['exp', 'jti', 'client_id'],
        },
      );
      if (typeof payload.client_id !== 'string' || typeof payload.jti !== 'string' || typeof payload.exp !== 'number') {
        return undefined;
      }
      return { claims: payload as Verified['claims'] };
    } catch {
      // Forged, foreign, expired or malformed: RFC 7662 answers inactive, RFC 7009 ignores it; neither says why.
      return undefined;
    }
  }

  async function introspect(token: string, caller: { clientId: string; clientAuthMethod: string }) {
    const verified = await verify(token);
    if (verified === undefined) return { active: false };
    const { claims } = verified;
    // The provider's allowedPolicy for opaque tokens, applied to ours: a foreign token looks like an unknown one.
    if (!options.mayIntrospect(caller, claims.client_id)) return { active: false };
    if (await options.records.isRevoked(claims.jti)) return { active: false };
    if (!(await options.clientExists(claims.client_id))) return { active: false };
    const grantId = await options.records.grantOf(claims.jti);
    if (grantId !== undefined && !(await options.grantExists(grantId))) return { active: false };
    return {
      active: true,
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud,
      client_id: claims.client_id,
      scope: claims.scope,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      token_type: 'Bearer',
    };
  }

  /**
   * Revokes the token when it is the caller's own; anything else (forged, expired, another client's) is left alone
   * without a word: RFC 7009 §2.2 answers 200 either way, so the answer says nothing about other clients' tokens.
   */
  async function revoke(token: string, caller: { clientId: string }): Promise<void> {
    const verified = await verify(token);
    if (verified === undefined || verified.claims.client_id !== caller.clientId) return;
    const { claims } = verified;
    // Kept a minute past expiry: a resource server's clock tolerance may still take the token that long.
    const ttl = Math.max(1, claims.exp - Math.floor(now() / 1000) + 60);
    await options.records.revoke(claims.jti, claims.client_id, ttl);
  }

  return async (ctx: KoaMiddlewareContext, next: () => Promise<void>): Promise<void> => {
    await next();
    const oidc = ctx.oidc;
    const body = ctx.body as { error?: unknown } | undefined;
    const client = oidc?.client;
    const token = oidc?.params?.token;
    if (ctx.status !== 400 || body?.error !== STRUCTURED || client === undefined || typeof token !== 'string') return;
    if (oidc?.route === 'introspection') {
      ctx.status = 200;
      ctx.body = await introspect(token, client);
    } else if (oidc?.route === 'revocation') {
      await revoke(token, client);
      ctx.status = 200;
      ctx.body = '';
      // The provider's own empty 200 (an opaque or unknown token) is text; the rejection set JSON.
      ctx.set({ 'content-type': 'text/plain; charset=utf-8' });
    }
  };
}
