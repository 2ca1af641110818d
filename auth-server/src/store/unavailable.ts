// The error every store answers when its database cannot be reached, and which database failures count as that.
import { postgresUnreachable } from '@trellis/kit';

/**
 * The auth database is unreachable (stopped, restarting, refusing connections): the request may succeed if sent
 * again shortly. Shaped so oidc-provider's error handler answers it as it is (status 503, `temporarily_unavailable`
 * with the reason) instead of its generic server_error, and the HTTP app renders it the same way. It never carries
 * the database URL or the driver's message.
 */
export class StoreUnavailableError extends Error {
  readonly status = 503;
  readonly statusCode = 503;
  /** oidc-provider shows `message` as the error code and `error_description` only for exposed errors. */
  readonly expose = true;
  readonly error = 'temporarily_unavailable';
  readonly error_description = 'the auth server cannot reach its database; try again shortly';

  constructor(options?: { cause?: unknown }) {
    super('temporarily_unavailable', options);
    this.name = 'StoreUnavailableError';
  }
}

export function isStoreUnavailable(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}

/** Seconds a client is told to wait (Retry-After) while the database is unreachable. */
export const RETRY_AFTER_SEC = 2;

/** `err` as {@link StoreUnavailableError} when it says the database cannot be reached (the kit's judgement), else as is. */
export function translateFailure(err: unknown): unknown {
  return postgresUnreachable(err) === undefined ? err : new StoreUnavailableError({ cause: err });
}
