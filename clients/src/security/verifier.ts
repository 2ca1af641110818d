// Offline validation of JWT access tokens (RFC 9068) against the issuer's published keys.
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWSHeaderParameters,
} from 'jose';
import type { Logger } from '@trellis/kit';
import { SecurityError } from './errors.ts';
import { discoverServer, joseFetch, lazily, serverConnection, type ServerConnectionOptions } from './http.ts';

export type AccessTokenAlgorithm =
  'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'EdDSA';

export interface TokenVerifierOptions extends ServerConnectionOptions {
  /** The `iss` tokens must carry, exactly as the authorization server's discovery document names it. */
  readonly issuer: string;
  /** The `aud` this resource server answers to; a token must name at least one of them. */
  readonly audience: string | readonly string[];
  /** Where the signing keys are; read from the issuer's OpenID discovery document when omitted. */
  readonly jwksUri?: string;
  /** Leeway for `exp` and `nbf` between this machine's clock and the issuer's. Default 30 s. */
  readonly clockToleranceSec?: number;
  /** Signing algorithms accepted; anything else (`none`, HS256 with a public key as secret…) is refused. */
  readonly algorithms?: readonly AccessTokenAlgorithm[];
  /**
   * Smallest interval between two JWKS downloads triggered by an unknown key id, so a flood of forged `kid`s cannot
   * turn into a flood of requests to the issuer. Default 30 s.
   */
  readonly jwksCooldownSec?: number;
  /** How long downloaded keys are trusted before they are fetched again. Default 10 min. */
  readonly jwksMaxAgeSec?: number;
  /**
   * How many verified tokens to remember, so a client reusing its token (the usual case: one token for its lifetime)
   * is not verified cryptographically on every request. A token is recognised by the whole of it, signature included;
   * `exp` is still checked on every use. 0 turns it off. Default 1000.
   */
  readonly verifiedTokenCacheSize?: number;
  /** Time for `exp`/`nbf` checks and the cache. Default Date.now. */
  readonly clock?: { now(): number };
  readonly logger?: Logger;
}

/** What a verified access token says about its bearer. */
export interface AuthInfo {
  /** `sub`: the user, or for client-credentials tokens usually the client. */
  readonly subject: string | undefined;
  /** `client_id` (RFC 9068), or `azp` for issuers that use that instead. */
  readonly clientId: string | undefined;
  /** From `scope` (space-separated, RFC 9068) or `scp` (an array, as some issuers send). */
  readonly scopes: ReadonlySet<string>;
  readonly claims: Readonly<JWTPayload>;
}

export interface TokenVerifier {
  /** Verifies a compact JWT; rejects with a {@link SecurityError} `invalid_token` saying why. */
  verify(token: string): Promise<AuthInfo>;
  /**
   * What {@link verify} would answer for a token it has verified before and still remembers as valid; undefined
   * otherwise (then call `verify`). Synchronous: a client reusing its token costs a map lookup, not a promise.
   */
  cached(token: string): AuthInfo | undefined;
}

const DEFAULT_ALGORITHMS: readonly AccessTokenAlgorithm[] = ['RS256', 'ES256'];
/** A verified token is reused at most this long, bounding how long a key withdrawn from the JWKS still counts. */
const VERIFIED_MAX_AGE_MS = 5 * 60_000;
/**
 * Remembered tokens are found by their last characters (the signature's: as random as the key's hash needs) and then
 * compared whole. A Map keyed by the whole token hashes all its 600 to 1000 characters on every request, because each
 * request's token is a new string: over a microsecond, most of what a guarded request cost. Comparing the one
 * candidate is a memcmp, and a token that only shares the last characters is simply not found.
 */
const KEY_CHARS = 16;

interface Verified {
  readonly token: string;
  readonly info: AuthInfo;
  /** Date.now() from which the token must be verified again: its exp (plus tolerance), or VERIFIED_MAX_AGE_MS. */
  readonly until: number;
}

function scopesOf(claims: JWTPayload): ReadonlySet<string> {
  if (typeof claims.scope === 'string') return new Set(claims.scope.split(' ').filter((s) => s !== ''));
  const scp = claims.scp;
  if (Array.isArray(scp)) return new Set(scp.filter((s): s is string => typeof s === 'string'));
  if (typeof scp === 'string') return new Set(scp.split(' ').filter((s) => s !== ''));
  return new Set();
}

/** What a verified token, or an RFC 7662 introspection answer (the same claim names), says about its bearer. */
export function authInfo(claims: JWTPayload): AuthInfo {
  const clientId = typeof claims.client_id === 'string' ? claims.client_id : claims.azp;
  return {
    subject: claims.sub,
    clientId: typeof clientId === 'string' ? clientId : undefined,
    scopes: scopesOf(claims),
    claims: Object.freeze({ ...claims }),
  };
}

function invalid(description: string, cause?: unknown): SecurityError {
  return new SecurityError('invalid_token', description, cause === undefined ? {} : { cause });
}

/** Maps jose's failures to a reason a client developer can act on; the wording goes into `error_description`. */
function describeFailure(err: unknown): SecurityError {
  if (err instanceof SecurityError) return err;
  if (!(err instanceof errors.JOSEError)) {
    // jose raises its own errors for every token fault; anything else came from fetching the keys (fetch failed).
    return new SecurityError('authorization_server_unavailable', "the issuer's JWKS could not be read", { cause: err });
  }
  if (err instanceof errors.JWTExpired) return invalid('the token has expired', err);
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return invalid('the token is not valid yet', err);
    if (err.claim === 'iss') return invalid('the token was issued by another issuer', err);
    if (err.claim === 'aud') return invalid('the token is not meant for this audience', err);
    if (err.reason === 'missing') return invalid(`the token has no ${err.claim} claim`, err);
    return invalid(`the token's ${err.claim} claim is invalid`, err);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('the token signature is invalid', err);
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid("no signing key of the issuer matches the token's key id", err);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return invalid("the token's signing algorithm is not accepted", err);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid)
    return invalid('the token is malformed', err);
  if (err instanceof errors.JWKSInvalid) {
    return new SecurityError('invalid_response', 'the issuer published an unusable JWKS', { cause: err });
  }
  // JWKSTimeout, a non-200 JWKS answer, or any other failure to get the keys: the token may be fine.
  return new SecurityError('authorization_server_unavailable', `the issuer's JWKS could not be read: ${err.message}`, {
    cause: err,
  });
}

function clone(options: TokenVerifierOptions) {
  const audience = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (audience.length === 0) throw new SecurityError('invalid_options', 'requireAuth needs at least one audience');
  if (!URL.canParse(options.issuer)) throw new SecurityError('invalid_options', 'issuer must be a URL');
  if (options.jwksUri !== undefined && !URL.canParse(options.jwksUri)) {
    throw new SecurityError('invalid_options', 'jwksUri must be a URL');
  }
  const algorithms = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  if (algorithms.length === 0) throw new SecurityError('invalid_options', 'at least one algorithm must be accepted');
  return {
    issuer: options.issuer,
    audience,
    algorithms,
    clockToleranceSec: options.clockToleranceSec ?? 30,
    cacheSize: options.verifiedTokenCacheSize ?? 1000,
    clock: options.clock ?? { now: () => Date.now() },
  };
}

/**
 * Creates a verifier for JWT access tokens of one issuer: signature against the issuer's JWKS (downloaded once,
 * refetched for an unknown key id at most every `jwksCooldownSec`), `iss`, `aud`, `exp` and `nbf` within the clock
 * tolerance. The guard {@link requireAuth} uses it; the gateway can use it directly.
 *
 * @example
 * const verifier = createTokenVerifier({ issuer: 'https://localhost:9999', audience: 'product-composite' });
 * const auth = await verifier.verify(token);
 * auth.scopes.has('product:read');
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const o = clone(options);
  const connection = serverConnection(options);
  const jwksUrl = lazily(async () => {
    if (options.jwksUri !== undefined) return new URL(options.jwksUri);
    const metadata = await discoverServer(connection, o.issuer);
    if (metadata.jwksUri === undefined) {
      throw new SecurityError('invalid_response', `the discovery document of ${o.issuer} has no jwks_uri`);
    }
    return new URL(metadata.jwksUri);
  });
  const keySet = lazily(async () =>
    createRemoteJWKSet(await jwksUrl(), {
      cooldownDuration: (options.jwksCooldownSec ?? 30) * 1000,
      cacheMaxAge: (options.jwksMaxAgeSec ?? 600) * 1000,
      timeoutDuration: connection.timeoutMs,
      [customFetch]: joseFetch(connection),
    }),
  );
  const getKey: JWTVerifyGetKey = async (header: JWSHeaderParameters, token) => (await keySet())(header, token);
  const verified = new Map<string, Verified>();
  const toleranceMs = o.clockToleranceSec * 1000;

  function remember(token: string, info: AuthInfo, now: number): void {
    if (o.cacheSize <= 0 || typeof info.claims.exp !== 'number') return;
    // Map keeps insertion order: dropping the first entry evicts the oldest.
    if (verified.size >= o.cacheSize) verified.delete(verified.keys().next().value as string);
    const until = Math.min(info.claims.exp * 1000 + toleranceMs, now + VERIFIED_MAX_AGE_MS);
    verified.set(token.slice(-KEY_CHARS), { token, info, until });
  }

  function cached(token: string, now = o.clock.now()): AuthInfo | undefined {
    const key = token.slice(-KEY_CHARS);
    const hit = verified.get(key);
    if (hit === undefined || hit.token !== token) return undefined;
    if (now < hit.until) return hit.info;
    // Expired (or due for a fresh signature check): verify again, which also names the reason.
    verified.delete(key);
    return undefined;
  }

  return {
    cached: (token) => cached(token),
    async verify(token) {
      const now = o.clock.now();
      const hit = cached(token, now);
      if (hit !== undefined) return hit;
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, getKey, {
          issuer: o.issuer,
          audience: o.audience,
          algorithms: o.algorithms,
          clockTolerance: o.clockToleranceSec,
          currentDate: new Date(now),
          // RFC 9068 §2.2: an access token without an expiry would be valid forever.
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        const failure = describeFailure(err);
        if (failure.status >= 500) options.logger?.warn({ err: failure }, 'cannot verify access tokens');
        throw failure;
      }
      const info = authInfo(claims);
      remember(token, info, now);
      return info;
    },
  };
}
