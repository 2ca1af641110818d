// Discovery's one error class and its closed set of codes, each with its HTTP status.
import { TrellisError } from '@trellis/kit';

/**
 * Why a discovery operation failed. Closed, so a caller can switch exhaustively: a composite service maps
 * `no_instances` to its own 503, the gateway maps `timeout` to 504.
 */
export type DiscoveryErrorCode =
  /** No UP instance of the application is in the cache. */
  | 'no_instances'
  /** Every instance tried refused or dropped the connection before answering. */
  | 'unreachable'
  /** The instance did not answer within the timeout. */
  | 'timeout'
  /** No registry URL answered (connection errors or 5xx from each). */
  | 'registry_unavailable'
  /** The registry answered with a status the client cannot act on (e.g. 400 on register, 401 without credentials). */
  | 'registry_rejected'
  /** The registry's answer is not the Eureka JSON a client can read. */
  | 'invalid_response'
  /** The options given to a factory cannot work (no registry URL, no port); a programming error, raised at once. */
  | 'invalid_options';

/** One table from code to the HTTP status a server would answer with, should the error reach its onError. */
const STATUS = {
  no_instances: 503,
  unreachable: 502,
  timeout: 504,
  registry_unavailable: 503,
  registry_rejected: 502,
  invalid_response: 502,
  invalid_options: 500,
} as const satisfies Record<DiscoveryErrorCode, number>;

/**
 * The one error class of the discovery module. Messages name the application, instance or registry URL (with any
 * credentials removed), never a token or password, so they are safe to log.
 *
 * @example
 * try {
 *   await http.request('http://review/review?productId=1');
 * } catch (err) {
 *   if (err instanceof DiscoveryError && err.code === 'no_instances') return c.json({ error: 'unavailable' }, 503);
 *   throw err;
 * }
 */
export class DiscoveryError extends TrellisError<DiscoveryErrorCode> {
  /** The application the error is about, when there is one. */
  readonly app: string | undefined;

  constructor(code: DiscoveryErrorCode, message: string, options: { app?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.app = options.app;
  }

  get status(): number {
    return STATUS[this.code];
  }
}
