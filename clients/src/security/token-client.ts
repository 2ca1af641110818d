// OAuth 2.0 client credentials grant (RFC 6749 §4.4): one cached access token per client, refreshed before it expires.
import type { LoadBalancedHttp } from '../discovery/http.ts';
import type { Logger } from '@trellis/kit';
import { SecurityError } from './errors.ts';
import {
  basicCredentials,
  endpointOf,
  postForm,
  serverConnection,
  unavailable,
  type ServerConnectionOptions,
} from './http.ts';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';

interface TokenClientCommon extends ServerConnectionOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Scopes to ask for, space-separated or a list; the server's default scopes when omitted. */
  readonly scope?: string | readonly string[];
  /** RFC 8707 resource indicator: the API the token is for (its `aud`). */
  readonly resource?: string;
  /** How the client authenticates to the token endpoint. Default `client_secret_basic`, as RFC 6749 §2.3.1 prefers. */
  readonly auth?: ClientAuthMethod;
  readonly logger: Logger;
  /** Lifetime assumed when the server sends no `expires_in`. Default 60 s. */
  readonly defaultLifetimeSec?: number;
  readonly clock?: { now(): number };
}

export type TokenClientOptions = TokenClientCommon &
  (
    | { readonly tokenUrl: string; readonly issuer?: undefined }
    /** The token endpoint is read from `<issuer>/.well-known/openid-configuration`. */
    | { readonly issuer: string; readonly tokenUrl?: undefined }
  );

export interface AccessToken {
  readonly accessToken: string;
  readonly tokenType: 'Bearer';
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  /** The scopes granted, when the server says (it must when they differ from those asked for). */
  readonly scope: string | undefined;
}

export interface TokenClient {
  /** A valid access token: the cached one, or a new one when it is (nearly) expired. */
  getToken(): Promise<string>;
  /** The cached token with its expiry, fetching one when needed. */
  getAccessToken(): Promise<AccessToken>;
  /** `{ authorization: 'Bearer …' }` to spread into request headers. */
  authorizationHeaders(): Promise<{ authorization: string }>;
  /** Forgets the cached token, e.g. after a resource server answered 401 `invalid_token` with it. */
  invalidate(token?: string): void;
  close(): Promise<void>;
}

/** Refresh this long before expiry: 10 % of the lifetime, at most 30 s, so a token never expires in flight. */
function refreshMargin(lifetimeMs: number): number {
  return Math.min(30_000, lifetimeMs / 10);
}

function readTokenResponse(body: unknown, now: number, defaultLifetimeSec: number): AccessToken {
  if (typeof body !== 'object' || body === null) {
    throw new SecurityError('invalid_response', 'the token endpoint did not answer with a JSON object');
  }
  const b = body as Record<string, unknown>;
  if (typeof b.access_token !== 'string' || b.access_token === '') {
    throw new SecurityError('invalid_response', 'the token response has no access_token');
  }
  if (typeof b.token_type !== 'string' || b.token_type.toLowerCase() !== 'bearer') {
    throw new SecurityError('invalid_response', `the token type ${JSON.stringify(b.token_type)} is not Bearer`);
  }
  // Some servers send expires_in as a string of digits.
  const raw = typeof b.expires_in === 'string' && /^\d+$/.test(b.expires_in) ? Number(b.expires_in) : b.expires_in;
  const lifetimeSec = typeof raw === 'number' && Number.isFinite(raw) && raw > 0 ? raw : defaultLifetimeSec;
  return {
    accessToken: b.access_token,
    tokenType: 'Bearer',
    expiresAt: now + lifetimeSec * 1000,
    scope: typeof b.scope === 'string' ? b.scope : undefined,
  };
}

/** RFC 6749 §5.2 error body → typed error. The description is the server's, but never echoes our secret. */
function rejection(status: number, body: unknown): SecurityError {
  const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  if (typeof b.error !== 'string' || !/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/.test(b.error)) {
    return new SecurityError(
      status >= 500 ? 'authorization_server_unavailable' : 'invalid_response',
      `the token endpoint answered ${status} without an OAuth error`,
    );
  }
  const description =
    typeof b.error_description === 'string' && b.error_description !== ''
      ? `: ${b.error_description.slice(0, 200)}`
      : '';
  return new SecurityError('token_rejected', `the token endpoint refused the request: ${b.error}${description}`, {
    oauthError: b.error,
  });
}

/**
 * Creates a client-credentials token client. Tokens are cached and replaced shortly before they expire (callers keep
 * getting the current one while the replacement is fetched); concurrent callers share one request. Failures are
 * {@link SecurityError}s: `token_rejected` with `oauthError` (`invalid_client`, `invalid_scope`…) when the server
 * refuses, `authorization_server_unavailable` when it cannot be reached.
 *
 * @example
 * const tokens = createTokenClient({
 *   issuer: 'https://localhost:9999',
 *   clientId: 'reader',
 *   clientSecret: settings.clientSecret,
 *   scope: 'product:read',
 *   logger,
 * });
 * const res = await http.request('http://product-composite/product-composite/1', {
 *   headers: await tokens.authorizationHeaders(),
 * });
 */
export function createTokenClient(options: TokenClientOptions): TokenClient {
  if (options.clientId === '') throw new SecurityError('invalid_options', 'clientId is empty');
  if (typeof options.clientSecret !== 'string' || options.clientSecret === '') {
    throw new SecurityError('invalid_options', 'clientSecret is empty');
  }
  const configured = options.tokenUrl ?? options.issuer;
  if (configured === undefined || !URL.canParse(configured)) {
    throw new SecurityError('invalid_options', 'tokenUrl or issuer must be a URL');
  }
  const clientId = options.clientId;
  const clientSecret = options.clientSecret;
  const authMethod = options.auth ?? 'client_secret_basic';
  const scope =
    options.scope === undefined
      ? undefined
      : typeof options.scope === 'string'
        ? options.scope
        : options.scope.join(' ');
  const resource = options.resource;
  const defaultLifetimeSec = options.defaultLifetimeSec ?? 60;
  const clock = options.clock ?? { now: () => Date.now() };
  const log = options.logger;
  const connection = serverConnection(options);

  const tokenUrl = endpointOf(connection, options.issuer, options.tokenUrl, 'tokenEndpoint', 'token_endpoint');

  async function requestToken(): Promise<AccessToken> {
    const url = await tokenUrl();
    const form: [string, string][] = [['grant_type', 'client_credentials']];
    if (scope !== undefined) form.push(['scope', scope]);
    if (resource !== undefined) form.push(['resource', resource]);
    const headers: Record<string, string> = {};
    if (authMethod === 'client_secret_basic') {
      headers.authorization = basicCredentials(clientId, clientSecret);
    } else {
      form.push(['client_id', clientId], ['client_secret', clientSecret]);
    }
    // The endpoint's path is configuration, one per client: a bounded `uri` tag.
    const { status, body: parsed } = await postForm(connection, url, form, headers, 'the token endpoint', url.pathname);
    if (status !== 200) throw rejection(status, parsed);
    return readTokenResponse(parsed, clock.now(), defaultLifetimeSec);
  }

  let current: { token: AccessToken; refreshAt: number } | undefined;
  let inFlight: Promise<AccessToken> | undefined;

  function fetchToken(): Promise<AccessToken> {
    inFlight ??= requestToken()
      .then((token) => {
        const now = clock.now();
        current = { token, refreshAt: token.expiresAt - refreshMargin(token.expiresAt - now) };
        log.debug(
          { clientId, expiresInSec: Math.round((token.expiresAt - now) / 1000), scope: token.scope },
          'access token obtained',
        );
        return token;
      })
      .catch((err: unknown) => {
        const e = err instanceof SecurityError ? err : unavailable('the token request failed', err);
        log.warn(
          { clientId, code: e.code, oauthError: e.oauthError, reason: e.message },
          'access token request failed',
        );
        throw e;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  async function getAccessToken(): Promise<AccessToken> {
    const now = clock.now();
    if (current !== undefined && now < current.token.expiresAt) {
      if (now >= current.refreshAt && inFlight === undefined) {
        // Still valid: callers keep it while the replacement is fetched. Should that fail (already logged), wait a
        // little before the next attempt so callers in the margin do not hammer a struggling server.
        const held = current;
        fetchToken().catch(() => {
          if (current === held) current = { ...held, refreshAt: Math.min(held.token.expiresAt, clock.now() + 5000) };
        });
      }
      return current.token;
    }
    return inFlight ?? fetchToken();
  }

  return {
    getAccessToken,
    async getToken() {
      return (await getAccessToken()).accessToken;
    },
    async authorizationHeaders() {
      return { authorization: `Bearer ${(await getAccessToken()).accessToken}` };
    },
    invalidate(token) {
      if (token === undefined || current?.token.accessToken === token) current = undefined;
    },
    close: () => connection.close(),
  };
}

/**
 * Wraps a load-balanced HTTP client so every request carries the client's bearer token. When a resource server
 * answers 401 `invalid_token` (a token revoked, or signed with a key it has not seen yet), the token is dropped and
 * the request sent once more with a new one.
 *
 * @example
 * const api = withAccessToken(createLoadBalancedHttp({ discovery, logger }), tokens);
 * const res = await api.request('http://product-composite/product-composite/1');
 */
export function withAccessToken(http: LoadBalancedHttp, tokens: TokenClient): LoadBalancedHttp {
  return {
    async request(url, init = {}) {
      for (let attempt = 0; ; attempt++) {
        const token = await tokens.getToken();
        // A caller's own Authorization (in any letter case) would be sent beside ours; ours replaces it.
        const headers = Object.fromEntries(
          Object.entries(init.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'authorization'),
        );
        const res = await http.request(url, { ...init, headers: { ...headers, authorization: `Bearer ${token}` } });
        const challenge = res.headers['www-authenticate'];
        const stale = res.status === 401 && String(challenge ?? '').includes('invalid_token');
        if (!stale || attempt > 0) return res;
        await res.body.dump();
        tokens.invalidate(token);
      }
    },
    close: () => http.close(),
  };
}
