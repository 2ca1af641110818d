// Retry on cockatiel's retry loop, with Resilience4j's counting (maxAttempts includes the first call) and its
// IntervalFunction for the waits (fixed, exponential with a cap, randomized within ± factor) as a cockatiel backoff.
import { DelegateBackoff, handleWhen, retry, type RetryPolicy } from 'cockatiel';
import type { Logger } from '@trellis/kit';
import { RETRY_DEFAULTS, type RetrySettings } from './config.ts';
import { describeError, errorMatches } from './matchers.ts';

export interface RetryPredicates {
  /** Errors worth another attempt (with retryExceptions, others are not retried). */
  readonly retryException?: (err: unknown) => boolean;
  /** Errors never retried; wins over retryException. */
  readonly ignoreException?: (err: unknown) => boolean;
}

export interface RetryOptions extends RetryPredicates {
  readonly name: string;
  readonly settings?: Partial<RetrySettings>;
  readonly logger?: Logger;
  /** A number in [0, 1) for randomized waits. Default Math.random. */
  readonly random?: () => number;
  readonly now?: () => number;
}

export type RetryEventType = 'RETRY' | 'SUCCESS' | 'ERROR' | 'IGNORED_ERROR';

/** One entry of `/actuator/retryevents`, in Resilience4j's field names. */
export interface RetryEvent {
  readonly retryName: string;
  readonly type: RetryEventType;
  readonly creationTime: string;
  readonly numberOfAttempts: number;
  readonly errorMessage?: string;
  /** For RETRY: the wait before the next attempt. */
  readonly waitDurationInMs?: number;
}

export interface RetryMetrics {
  readonly numberOfSuccessfulCallsWithoutRetryAttempt: number;
  readonly numberOfSuccessfulCallsWithRetryAttempt: number;
  readonly numberOfFailedCallsWithoutRetryAttempt: number;
  readonly numberOfFailedCallsWithRetryAttempt: number;
}

/**
 * The wait before attempt `retry + 1`, after `retry` failed attempts (1 or more), per Resilience4j's IntervalFunction:
 * waitDuration × multiplier^(retry − 1) capped at exponentialMaxWaitDuration, then drawn from ± randomizedWaitFactor
 * (and capped again, so the maximum really is one).
 *
 * @example
 * retryInterval({ ...RETRY_DEFAULTS, enableExponentialBackoff: true, exponentialBackoffMultiplier: 2 }, 3); // 2000
 */
export function retryInterval(settings: RetrySettings, retry: number, random: () => number = Math.random): number {
  const max = settings.exponentialMaxWaitDurationMs;
  let wait = settings.waitDurationMs;
  if (settings.enableExponentialBackoff) {
    wait = Math.min(settings.waitDurationMs * settings.exponentialBackoffMultiplier ** Math.max(0, retry - 1), max);
  }
  if (settings.enableRandomizedWait) {
    const delta = settings.randomizedWaitFactor * wait;
    wait = wait - delta + random() * 2 * delta;
    if (settings.enableExponentialBackoff) wait = Math.min(wait, max);
  }
  return Math.max(0, Math.round(wait));
}

export interface RetryCall {
  /** 1 for the first call. */
  readonly attempt: number;
  readonly signal: AbortSignal;
}

/**
 * Retries a failing call up to maxAttempts times in all (the first call included), waiting between attempts.
 *
 * @example
 * const r = new Retry({ name: 'product', settings: { maxAttempts: 3, waitDurationMs: 100 } });
 * await r.execute(({ attempt }) => fetchProduct(1, attempt));
 */
export class Retry {
  readonly name: string;
  readonly settings: RetrySettings;
  readonly #policy: RetryPolicy;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #events: (RetryEvent | undefined)[] = new Array<RetryEvent | undefined>(100);
  #eventsNext = 0;
  readonly #metrics = {
    numberOfSuccessfulCallsWithoutRetryAttempt: 0,
    numberOfSuccessfulCallsWithRetryAttempt: 0,
    numberOfFailedCallsWithoutRetryAttempt: 0,
    numberOfFailedCallsWithRetryAttempt: 0,
  };
  readonly #retryable: (err: unknown) => boolean;

  constructor(options: RetryOptions) {
    this.name = options.name;
    const settings: RetrySettings = Object.freeze({ ...RETRY_DEFAULTS, ...options.settings });
    this.settings = settings;
    this.#log = options.logger;
    this.#now = options.now ?? (() => Date.now());
    const random = options.random ?? Math.random;
    const selective = settings.retryExceptions.length > 0 || options.retryException !== undefined;
    this.#retryable = (err) => {
      if (errorMatches(err, settings.ignoreExceptions) || options.ignoreException?.(err) === true) return false;
      return !selective || errorMatches(err, settings.retryExceptions) || options.retryException?.(err) === true;
    };
    this.#policy = retry(
      handleWhen((err) => this.#retryable(err)),
      {
        // cockatiel counts retries after the first call; Resilience4j counts attempts including it.
        maxAttempts: settings.maxAttempts - 1,
        backoff: new DelegateBackoff<{ attempt: number }>((context) =>
          retryInterval(settings, context.attempt, random),
        ),
      },
    );
    this.#policy.onRetry((e) => {
      const error = 'error' in e ? e.error : undefined;
      this.#emit({
        type: 'RETRY',
        numberOfAttempts: e.attempt,
        errorMessage: describeError(error),
        waitDurationInMs: e.delay,
      });
      this.#log?.debug(
        { retry: this.name, attempt: e.attempt, waitMs: e.delay, reason: describeError(error) },
        `retry ${this.name}: attempt ${e.attempt} failed, retrying`,
      );
    });
  }

  /**
   * Runs the call, retrying it on retryable errors.
   *
   * @example
   * await retry.execute(({ signal }) => http.request('http://review/review?productId=1', { signal }), controller.signal);
   */
  async execute<T>(fn: (call: RetryCall) => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    let attempts = 0;
    try {
      const value = await this.#policy.execute((context) => {
        attempts = context.attempt + 1;
        return fn({ attempt: attempts, signal: context.signal });
      }, signal);
      if (attempts > 1) {
        this.#metrics.numberOfSuccessfulCallsWithRetryAttempt++;
        this.#emit({ type: 'SUCCESS', numberOfAttempts: attempts });
      } else {
        this.#metrics.numberOfSuccessfulCallsWithoutRetryAttempt++;
      }
      return value;
    } catch (err) {
      if (attempts > 1) this.#metrics.numberOfFailedCallsWithRetryAttempt++;
      else this.#metrics.numberOfFailedCallsWithoutRetryAttempt++;
      const type = this.#retryable(err) ? 'ERROR' : 'IGNORED_ERROR';
      this.#emit({ type, numberOfAttempts: attempts, errorMessage: describeError(err) });
      throw err;
    }
  }

  metrics(): RetryMetrics {
    return { ...this.#metrics };
  }

  /** The last events, oldest first. */
  events(): RetryEvent[] {
    const size = this.#events.length;
    const out: RetryEvent[] = [];
    for (let i = 0; i < size; i++) {
      const e = this.#events[(this.#eventsNext + i) % size];
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  #emit(partial: Omit<RetryEvent, 'retryName' | 'creationTime'>): void {
    this.#events[this.#eventsNext] = {
      retryName: this.name,
      creationTime: new Date(this.#now()).toISOString(),
      ...partial,
    };
    this.#eventsNext = (this.#eventsNext + 1) % this.#events.length;
  }
}
