// The security module's one error class and its closed set of codes, each with its HTTP status.
import { TrellisError } from '@trellis/kit';

/**
 * Why a security operation failed. Closed, so a caller can switch exhaustively. The first four are the resource
 * server's answers to a request (RFC 6750 §3.1); the rest are the OAuth client's failures to get a token.
 */
export type SecurityErrorCode =
  /** The Authorization header says Bearer but carries no well-formed token (RFC 6750 `invalid_request`). */
  | 'invalid_request'
  /** No bearer credentials at all: answered with a bare `WWW-Authenticate: Bearer realm=…` challenge. */
  | 'missing_token'
  /** The token is expired, not yet valid, badly signed, or meant for another issuer or audience. */
  | 'invalid_token'
  /** The token is valid but lacks a scope the route requires. */
  | 'insufficient_scope'
  /** The authorization server refused the token request with an RFC 6749 error (see `oauthError`). */
  | 'token_rejected'
  /** The authorization server (token endpoint, discovery or JWKS) could not be reached or answered 5xx. */
  | 'authorization_server_unavailable'
  /** The authorization server answered with something that is not the JSON the protocol defines. */
  | 'invalid_response'
  /** The options given to a factory cannot work; a programming error, raised at once. */
  | 'invalid_options';

/**
 * One table from code to HTTP status. A failed token request is the calling service's upstream problem, so it maps to
 * 5xx: the service's own caller gets `server_error` and the detail goes to the log.
 */
const STATUS = {
  invalid_request: 400,
  missing_token: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  token_rejected: 502,
  authorization_server_unavailable: 503,
  invalid_response: 502,
  invalid_options: 500,
} as const satisfies Record<SecurityErrorCode, number>;

export interface SecurityErrorOptions {
  readonly cause?: unknown;
  /** The RFC 6749 `error` code the token endpoint answered with (`invalid_client`, `invalid_scope`, …). */
  readonly oauthError?: string;
  /** Scopes a route requires, for `insufficient_scope`. */
  readonly scopes?: readonly string[];
}

/**
 * The one error class of the security module. Messages never carry a token or a client secret, so they are safe to
 * log and, for 4xx codes, to send.
 *
 * @example
 * try {
 *   await tokens.getToken();
 * } catch (err) {
 *   if (err instanceof SecurityError && err.oauthError === 'invalid_client') log.error('check the client secret');
 *   throw err;
 * }
 */
export class SecurityError extends TrellisError<SecurityErrorCode> {
  readonly oauthError: string | undefined;
  readonly scopes: readonly string[] | undefined;

  constructor(code: SecurityErrorCode, message: string, options: SecurityErrorOptions = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.oauthError = options.oauthError;
    this.scopes = options.scopes;
  }

  get status(): number {
    return STATUS[this.code];
  }
}
