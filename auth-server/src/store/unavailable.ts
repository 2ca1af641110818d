// The error every store answers when its database cannot be reached, and which database failures count as that.

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

/** Node's socket errors of a connection that could not be made or was cut. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether a driver error means the database is unreachable rather than that the statement failed: connection
 * exceptions (SQLSTATE class 08), a server shutting down or starting (57P01-57P03), no free connection slot (53300),
 * a refused or cut socket, or node-postgres's own words for a connection that ended or timed out.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') {
      return true;
    }
    if (SOCKET_CODES.has(code)) return true;
  }
  const message = (err as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /Connection terminated|connection error|timeout exceeded when trying to connect|Client was closed/i.test(message)
  );
}

/** `err` as {@link StoreUnavailableError} when it is a connection failure, unchanged otherwise. */
export function translateFailure(err: unknown): unknown {
  return isConnectionFailure(err) ? new StoreUnavailableError({ cause: err }) : err;
}
