// The resource-server side of RFC 6750: bearer tokens in the Authorization header, challenges in WWW-Authenticate.
import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler, Next } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { bearerToken, quotedParam, wellFormedToken } from './bearer.ts';
import { SecurityError } from './errors.ts';
import { createTokenVerifier, type AuthInfo, type TokenVerifierOptions } from './verifier.ts';

/** A kit service's context once {@link requireAuth} has run: `c.var.auth` holds the verified token's claims. */
export interface AuthEnv extends KitEnv {
  Variables: KitEnv['Variables'] & { auth: AuthInfo };
}

export interface RequireAuthOptions extends TokenVerifierOptions {
  /** Scopes every route behind this guard needs; per-route ones go in {@link requireScopes}. */
  readonly requiredScopes?: readonly string[];
  /** `realm` of the challenge sent when no token came. Default: the first audience. */
  readonly realm?: string;
}

/** The 4xx answer for a refusal: RFC 6750 §3 challenge plus an RFC 6749-shaped JSON body. */
function bearerChallenge(c: Context, err: SecurityError, realm: string): Response {
  let challenge: string;
  switch (err.code) {
    case 'missing_token':
      // §3.1: no error code when the client sent no credentials; it may not know the resource is protected.
      challenge = `Bearer realm=${quotedParam(realm)}`;
      break;
    case 'insufficient_scope':
      challenge = `Bearer error="insufficient_scope", scope=${quotedParam((err.scopes ?? []).join(' '))}`;
      break;
    case 'invalid_request':
    case 'invalid_token':
      challenge = `Bearer error="${err.code}", error_description=${quotedParam(err.message)}`;
      break;
    case 'token_rejected':
    case 'authorization_server_unavailable':
    case 'invalid_response':
    case 'invalid_options':
      throw err; // not a verdict on the request: the service's onError logs it and answers 500
  }
  c.header('www-authenticate', challenge);
  c.header('cache-control', 'no-store');
  return c.json({ error: err.code, error_description: err.message }, err.status as 400 | 401 | 403);
}

/**
 * The Authorization header: from node's parsed headers when served over a socket (node's parser already refused
 * control characters), which spares hono's per-character scans of a header as long as a JWT on every request.
 */
function authorizationOf(c: Context): string | undefined {
  const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
  return incoming === undefined ? c.req.header('authorization') : incoming.headers.authorization;
}

/** Undefined when the token has every scope required; allocates nothing then, as that is every request's case. */
function missingScopes(auth: AuthInfo, required: readonly string[]): SecurityError | undefined {
  for (const scope of required) {
    if (auth.scopes.has(scope)) continue;
    const missing = required.filter((s) => !auth.scopes.has(s));
    return new SecurityError('insufficient_scope', `the token lacks the scope ${missing.join(' ')}`, {
      scopes: required,
    });
  }
  return undefined;
}

/**
 * The answer to a request the guard refuses: the challenge for a verdict on the request, logged at debug without the
 * token; anything else (the JWKS unreachable, a misplaced requireScopes) rejects, for the service's onError to log
 * and answer 500. Always a promise, as a hono middleware answers one.
 */
function refusal(c: Context, err: unknown, realm: string): Promise<Response> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrown as it came, for onError
  if (!(err instanceof SecurityError) || err.status >= 500) return Promise.reject(err);
  // Context may come from a plain hono app without the kit's logger.
  (c.get('log') as KitEnv['Variables']['log'] | undefined)?.debug(
    { reason: err.code, description: err.message },
    'bearer token refused',
  );
  return Promise.resolve(bearerChallenge(c, err, realm));
}

/**
 * Hono middleware that lets a request through only with a valid JWT access token of `issuer` for `audience`, and puts
 * what the token says on `c.var.auth`. Refusals answer 401 (`invalid_token`, or a bare challenge when no token came),
 * 400 (`invalid_request`) or 403 (`insufficient_scope`) with the RFC 6750 `WWW-Authenticate` header; the token itself
 * is never logged.
 *
 * @example
 * const auth = requireAuth({ issuer: 'https://localhost:9999', audience: 'product-composite' });
 * service.app.get('/product-composite/:id', auth, requireScopes('product:read'), (c) =>
 *   c.json({ id: c.req.param('id'), caller: c.var.auth.clientId }),
 * );
 */
export function requireAuth(options: RequireAuthOptions): MiddlewareHandler<AuthEnv> {
  const verifier = createTokenVerifier(options);
  const required = [...(options.requiredScopes ?? [])];
  const realm = options.realm ?? (typeof options.audience === 'string' ? options.audience : options.audience[0]) ?? '';
  const admit = (c: Context<AuthEnv>, auth: AuthInfo, next: Next): Promise<Response | void> => {
    const lacking = missingScopes(auth, required);
    if (lacking !== undefined) return refusal(c, lacking, realm);
    c.set('auth', auth);
    return next();
  };
  const verifyThenAdmit = async (c: Context<AuthEnv>, token: string, next: Next): Promise<Response | void> => {
    let auth: AuthInfo;
    try {
      auth = await verifier.verify(wellFormedToken(token));
    } catch (err) {
      return refusal(c, err, realm);
    }
    return admit(c, auth, next);
  };
  // Not an async function: a token verified before (a client keeps its token for its lifetime) goes straight on to
  // next(), skipping the syntax check and costing no promise of the guard's own. hono awaits what comes back.
  return (c, next) => {
    let token: string;
    let auth: AuthInfo | undefined;
    try {
      token = bearerToken(authorizationOf(c));
      auth = verifier.cached(token);
    } catch (err) {
      return refusal(c, err, realm);
    }
    return auth === undefined ? verifyThenAdmit(c, token, next) : admit(c, auth, next);
  };
}

/**
 * Hono middleware for one route: the token verified by {@link requireAuth} must carry every scope given, else 403
 * `insufficient_scope`.
 *
 * @example
 * service.app.post('/product', auth, requireScopes('product:write'), createProduct);
 */
export function requireScopes(...scopes: readonly string[]): MiddlewareHandler<AuthEnv> {
  if (scopes.length === 0) throw new SecurityError('invalid_options', 'requireScopes needs at least one scope');
  const required = [...scopes];
  // Not async, as requireAuth: a request with the scopes goes straight on to next().
  return (c, next) => {
    // c.get, not c.var: hono builds a fresh object of every variable on each c.var read.
    const auth = c.get('auth') as AuthInfo | undefined;
    const lacking =
      auth === undefined
        ? new SecurityError('invalid_options', 'requireScopes runs after requireAuth on the same route')
        : missingScopes(auth, required);
    return lacking === undefined ? next() : refusal(c, lacking, '');
  };
}
