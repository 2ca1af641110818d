// The auth server's errors: one closed union of codes and the HTTP status of each.
import { TrellisError } from '@trellis/kit';

/**
 * Every way an auth server admin, registration or interaction request can fail on purpose. OAuth endpoints answer in
 * RFC 6749 form from oidc-provider itself; these codes cover what Trellis adds around it (the registration endpoint
 * renders them in RFC 7591 form, `{error, error_description}`).
 */
export type AuthServerErrorCode =
  | 'invalid_client_metadata'
  | 'unsupported_media_type'
  | 'invalid_redirect_uri'
  | 'invalid_token'
  | 'registration_disabled'
  | 'invalid_user'
  | 'client_exists'
  | 'user_exists'
  | 'unknown_client'
  | 'unknown_user'
  | 'unauthorized'
  | 'admin_disabled'
  | 'invalid_csrf_token'
  | 'unknown_interaction'
  /** A secret asked of a public client (`none`), which has none: the client's state, not the request, is the conflict. */
  | 'public_client'
  /** Too many wrong admin or registration tokens from this address: refused before the token is looked at. */
  | 'too_many_attempts';

const STATUS = {
  invalid_client_metadata: 400,
  unsupported_media_type: 415,
  invalid_redirect_uri: 400,
  invalid_token: 401,
  registration_disabled: 404,
  invalid_user: 400,
  client_exists: 409,
  user_exists: 409,
  unknown_client: 404,
  unknown_user: 404,
  unauthorized: 401,
  admin_disabled: 404,
  invalid_csrf_token: 403,
  unknown_interaction: 400,
  public_client: 409,
  too_many_attempts: 429,
} as const satisfies Record<AuthServerErrorCode, number>;

export class AuthServerError extends TrellisError<AuthServerErrorCode> {
  get status(): number {
    return STATUS[this.code];
  }
}

export function isAuthServerError(err: unknown): err is AuthServerError {
  return err instanceof AuthServerError;
}
