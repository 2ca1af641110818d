// The config client's one error class and its closed set of codes, each with its HTTP status.
import { TrellisError } from '@trellis/kit';

/**
 * Why the config client failed. Closed, so a service can switch exhaustively: at start-up every code is fatal (the
 * `trellis` command prints the message); at run time only the read codes (`missing_key`, `invalid_value`,
 * `secret_value`) reach application code, because a failed refresh keeps the last good values.
 */
export type ConfigClientErrorCode =
  /** The options cannot work (no name, a bad URI, an unreadable CA file); raised at once, never retried. */
  | 'invalid_options'
  /** No config server answered: connection refused, reset, host not found, connect timeout. */
  | 'unreachable'
  /** The server accepted the connection but did not answer in time. */
  | 'timeout'
  /** The server's certificate is not trusted (unknown CA, expired, wrong host name). */
  | 'untrusted_certificate'
  /** 401: no credentials, or wrong ones. */
  | 'unauthorized'
  /** 403: the credentials may not read this application. */
  | 'forbidden'
  /** 404: unknown label (branch, tag, directory) or repository. */
  | 'not_found'
  /** Any other 4xx: the server refused the request as malformed (a bad profile or label name). */
  | 'rejected'
  /** 5xx from every server. */
  | 'server_error'
  /** The answer is not Spring's Environment JSON. */
  | 'invalid_response'
  /** A required key has no value and no default was given. */
  | 'missing_key'
  /** A value cannot be read as the type asked for. */
  | 'invalid_value'
  /** A secret was read with a plain getter; secrets are read with `getSecret(key).reveal()`. */
  | 'secret_value';

/** One table from code to the HTTP status a server would answer with, should the error reach its onError. */
const STATUS = {
  invalid_options: 500,
  unreachable: 503,
  timeout: 504,
  untrusted_certificate: 502,
  unauthorized: 502,
  forbidden: 502,
  not_found: 502,
  rejected: 502,
  server_error: 503,
  invalid_response: 502,
  missing_key: 500,
  invalid_value: 500,
  secret_value: 500,
} as const satisfies Record<ConfigClientErrorCode, number>;

/** Codes worth another attempt: the server may come up, recover or finish starting. The others cannot change. */
const RETRYABLE: ReadonlySet<ConfigClientErrorCode> = new Set([
  'unreachable',
  'timeout',
  'server_error',
  'invalid_response',
]);

/**
 * The one error class of the config client. Messages name the config server URL (without credentials), the
 * application and the key; never a credential or a secret value, so they are safe to log and print.
 *
 * @example
 * try {
 *   config = await createConfigClient({ uri: 'https://localhost:8888', name: 'product', logger });
 * } catch (err) {
 *   if (err instanceof ConfigClientError && err.code === 'untrusted_certificate') log.fatal('pass caFile');
 *   throw err;
 * }
 */
export class ConfigClientError extends TrellisError<ConfigClientErrorCode> {
  /** The config server the error is about, without user info. */
  readonly url: string | undefined;
  /** The property the error is about. */
  readonly key: string | undefined;
  /** A busy server's Retry-After (a 503 when every watch stream slot is taken), in milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ConfigClientErrorCode,
    message: string,
    options: { url?: string; key?: string; cause?: unknown; retryAfterMs?: number } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.url = options.url;
    this.key = options.key;
    this.retryAfterMs = options.retryAfterMs;
  }

  get status(): number {
    return STATUS[this.code];
  }

  /** Whether another attempt could succeed. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}
