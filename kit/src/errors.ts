// The base of every package's error class (a closed union of codes with statuses) and the start-up error.
/**
 * Base of each package's error class (jose style): a closed union of codes, each mapped to an HTTP status in one table
 * by the subclass, rendered by the service kit's one `onError`. 4xx messages are for the user and must say what to
 * fix; 5xx messages are logged, never sent.
 *
 * @example
 * type RegistryErrorCode = 'unknown_instance' | 'invalid_instance';
 * const STATUS = { unknown_instance: 404, invalid_instance: 400 } as const satisfies Record<RegistryErrorCode, number>;
 * class RegistryError extends TrellisError<RegistryErrorCode> {
 *   get status() { return STATUS[this.code]; }
 * }
 */
export abstract class TrellisError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  abstract get status(): number;
}

/**
 * A problem that stops a component from starting (a port in use, an unreadable file, a bad setting): the `trellis`
 * command prints its message as one line and exits with code 2, without a stack trace.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/** Narrows to a package error (instanceof alone would widen the code to any). */
export function isTrellisError(err: unknown): err is TrellisError<string> {
  return err instanceof TrellisError;
}

/** Codes of a connection its client ended or broke: resets, a closed pipe, a stream cut short. */
const CLIENT_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);

/** What to log of a connection error: its code, or its message when it has none. */
export function errorCode(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : err.message;
}

/**
 * Whether `err` says the client went away or broke its own request mid-way (node's 'aborted', a reset, a parser
 * error such as a body shorter than its content-length): the client's failure, not the server's.
 */
export function isClientGone(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  const code = errorCode(err);
  return CLIENT_GONE.has(code) || code.startsWith('HPE_') || err.message === 'aborted';
}
