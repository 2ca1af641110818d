// RFC 7662 token introspection: asking the authorization server whether a token is active now, for the calls that
// must see a revocation at once rather than when the token expires.
import type { JWTPayload } from 'jose';
import type { Logger } from '@trellis/kit';
import { SecurityError } from './errors.ts';
import { basicCredentials, endpointOf, postForm, serverConnection, type ServerConnectionOptions } from './http.ts';
import { authInfo, type AuthInfo } from './verifier.ts';

export interface TokenIntrospectorOptions extends ServerConnectionOptions {
  /** The authorization server; its discovery document names the introspection endpoint unless given. */
  readonly issuer: string;
  readonly introspectionUrl?: string;
  /** The credential of the client that introspects (client_secret_basic). */
  readonly clientId: string;
  readonly clientSecret: string;
  /** When given, an active token must name one of these in `aud`, as the offline verifier requires. */
  readonly audience?: string | readonly string[];
  readonly logger?: Logger;
}

export interface TokenIntrospector {
  /**
   * Asks the introspection endpoint about `token`, every time (nothing is cached: a revocation counts from the next
   * request). Rejects with a {@link SecurityError}: `invalid_token` when the server says inactive (revoked, expired,
   * unknown) or the token is for another audience; `authorization_server_unavailable` or `token_rejected` when the
   * server cannot answer or refuses this client's credential.
   */
  introspect(token: string): Promise<AuthInfo>;
  close(): Promise<void>;
}

/**
 * Creates an RFC 7662 introspection client for one authorization server.
 *
 * @example
 * const introspector = createTokenIntrospector({ issuer, clientId: 'gateway', clientSecret, audience: 'product-api' });
 * const auth = await introspector.introspect(token); // rejects once the token is revoked
 */
export function createTokenIntrospector(options: TokenIntrospectorOptions): TokenIntrospector {
  if (!URL.canParse(options.issuer)) throw new SecurityError('invalid_options', 'issuer must be a URL');
  if (options.introspectionUrl !== undefined && !URL.canParse(options.introspectionUrl)) {
    throw new SecurityError('invalid_options', 'introspectionUrl must be a URL');
  }
  if (options.clientId === '' || options.clientSecret === '') {
    throw new SecurityError('invalid_options', 'introspection needs a client id and secret');
  }
  const audience =
    options.audience === undefined
      ? undefined
      : typeof options.audience === 'string'
        ? [options.audience]
        : [...options.audience];
  const connection = serverConnection(options);
  const authorization = basicCredentials(options.clientId, options.clientSecret);
  const endpoint = endpointOf(
    connection,
    options.issuer,
    options.introspectionUrl,
    'introspectionEndpoint',
    'introspection_endpoint',
  );

  return {
    async introspect(token) {
      const url = await endpoint();
      const res = await postForm(
        connection,
        url,
        [
          ['token', token],
          ['token_type_hint', 'access_token'],
        ],
        { authorization },
        'the introspection endpoint',
      );
      const body = res.body;
      if (res.status !== 200) {
        const oauthError =
          typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string'
            ? (body as { error: string }).error
            : undefined;
        if (res.status >= 500 || oauthError === undefined) {
          throw new SecurityError(
            'authorization_server_unavailable',
            `the introspection endpoint answered ${res.status}`,
          );
        }
        options.logger?.warn({ oauthError, clientId: options.clientId }, 'token introspection refused');
        throw new SecurityError('token_rejected', `the introspection endpoint refused the request: ${oauthError}`, {
          oauthError,
        });
      }
      if (typeof body !== 'object' || body === null || typeof (body as { active?: unknown }).active !== 'boolean') {
        throw new SecurityError('invalid_response', 'the introspection answer has no boolean active');
      }
      const claims = body as JWTPayload & { active: boolean };
      if (!claims.active) throw new SecurityError('invalid_token', 'the token is not active (revoked or expired)');
      if (audience !== undefined) {
        const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
        if (!aud.some((a) => audience.includes(a))) {
          throw new SecurityError('invalid_token', 'the token is not meant for this audience');
        }
      }
      return authInfo(claims);
    },
    close: () => connection.close(),
  };
}
