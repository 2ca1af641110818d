// The resilience module's one error class and its closed set of codes, each with its HTTP status.
import { TrellisError } from '@trellis/kit';

/**
 * Why a resilient call failed before or instead of the call's own error. Closed, so callers can switch exhaustively
 * (a composite service answers `call_not_permitted` from its cache, the gateway maps `timeout` to 504).
 */
export type ResilienceErrorCode =
  /** The circuit breaker is OPEN or FORCED_OPEN, or HALF_OPEN with every trial call taken (Resilience4j's CallNotPermittedException). */
  | 'call_not_permitted'
  /** The time limiter's timeoutDuration passed; the call's AbortSignal was aborted (TimeoutException). */
  | 'timeout'
  /** The bulkhead had no free slot within maxWaitDuration (BulkheadFullException). */
  | 'bulkhead_full'
  /** A resilience4j property has a value that cannot work; the message names the property. */
  | 'invalid_config';

/** One table from code to the HTTP status a service answers with when the error reaches its onError. */
const STATUS = {
  call_not_permitted: 503,
  timeout: 504,
  bulkhead_full: 503,
  invalid_config: 500,
} as const satisfies Record<ResilienceErrorCode, number>;

/**
 * The one error class of the resilience module. Messages name the instance (`product`) and the limit that was hit,
 * never the call's arguments, so they are safe to log and to show in `/actuator/circuitbreakerevents`.
 *
 * @example
 * try {
 *   await resilience.execute('product', ({ signal }) => http.request('http://product/product/1', { signal }));
 * } catch (err) {
 *   if (err instanceof ResilienceError && err.code === 'call_not_permitted') return c.json(cached, 200);
 *   throw err;
 * }
 */
export class ResilienceError extends TrellisError<ResilienceErrorCode> {
  /** The circuit breaker, time limiter or bulkhead instance that raised it. */
  readonly instance: string | undefined;

  constructor(code: ResilienceErrorCode, message: string, options: { instance?: string; cause?: unknown } = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.instance = options.instance;
  }

  get status(): number {
    return STATUS[this.code];
  }
}

/**
 * Whether an error is a refusal by an open circuit breaker, the usual reason to answer from a fallback.
 *
 * @example
 * const reviews = await resilience.execute('review', call, { fallback: (err) => (isCallNotPermitted(err) ? [] : Promise.reject(err)) });
 */
export function isCallNotPermitted(err: unknown): err is ResilienceError {
  return err instanceof ResilienceError && err.code === 'call_not_permitted';
}
