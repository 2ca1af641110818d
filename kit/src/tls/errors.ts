// Why a certificate or key could not be used: TlsError and its closed set of codes.
/**
 * Why a certificate or key could not be used. Closed so callers can switch exhaustively and map each code to a message
 * or exit status of their own.
 */
export type TlsErrorCode =
  'unreadable_file' | 'unwritable_file' | 'invalid_certificate' | 'invalid_key' | 'key_mismatch' | 'invalid_hostname';

export interface TlsErrorOptions {
  /** The file the problem is about, so a user knows which path to fix. */
  readonly file?: string;
  readonly cause?: unknown;
}

/**
 * The one error type of the TLS module. Messages name the file and the reason; they never carry certificate or key
 * contents, so they are safe to log and to print at start-up.
 */
export class TlsError extends Error {
  override readonly name = 'TlsError';
  readonly code: TlsErrorCode;
  readonly file: string | undefined;

  constructor(code: TlsErrorCode, message: string, options: TlsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
  }
}
