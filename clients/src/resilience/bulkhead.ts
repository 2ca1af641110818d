// Resilience4j's semaphore bulkhead on cockatiel's BulkheadPolicy. cockatiel queues by count and never times a queued
// call out; maxWaitDuration is a time, so a queued call is given up after it (or when its signal aborts) and, when
// its turn comes, returns at once without running, so the slot passes straight to the next one in line.
import { bulkhead, BulkheadRejectedError, type BulkheadPolicy } from 'cockatiel';
import { BULKHEAD_DEFAULTS, type BulkheadSettings } from './config.ts';
import { ResilienceError } from './errors.ts';

export interface BulkheadOptions {
  readonly name: string;
  readonly settings?: Partial<BulkheadSettings>;
}

/**
 * Limits concurrent calls to maxConcurrentCalls; a call beyond waits up to maxWaitDuration, then gets `bulkhead_full`.
 *
 * @example
 * const b = new Bulkhead({ name: 'review', settings: { maxConcurrentCalls: 10, maxWaitDurationMs: 0 } });
 * await b.execute(() => fetchReviews(1));
 */
export class Bulkhead {
  readonly name: string;
  readonly settings: BulkheadSettings;
  readonly #policy: BulkheadPolicy;

  constructor(options: BulkheadOptions) {
    this.name = options.name;
    this.settings = Object.freeze({ ...BULKHEAD_DEFAULTS, ...options.settings });
    this.#policy = bulkhead(
      this.settings.maxConcurrentCalls,
      this.settings.maxWaitDurationMs > 0 ? Number.POSITIVE_INFINITY : 0,
    );
  }

  /** Free slots now. */
  get availableConcurrentCalls(): number {
    return this.#policy.executionSlots;
  }

  /**
   * Runs the call in a free slot, or waits for one.
   *
   * @example
   * await bulkhead.execute(() => http.request('http://review/review?productId=1'));
   */
  async execute<T>(fn: () => PromiseLike<T> | T, signal?: AbortSignal): Promise<T> {
    if (this.settings.maxWaitDurationMs === 0 || this.#policy.executionSlots > 0) {
      try {
        return await this.#policy.execute(() => fn());
      } catch (err) {
        if (err instanceof BulkheadRejectedError) throw this.#full(err);
        throw err;
      }
    }
    if (signal?.aborted === true) throw signal.reason;
    return new Promise<T>((resolve, reject) => {
      let gaveUp = false;
      const giveUp = (reason: unknown): void => {
        gaveUp = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // An abort reason is whatever the caller gave abort(); it is passed on unchanged, as fetch does.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(reason);
      };
      const onAbort = (): void => giveUp(signal?.reason);
      const timer = setTimeout(() => giveUp(this.#full()), this.settings.maxWaitDurationMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#policy
        .execute(() => {
          if (gaveUp) return undefined;
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          return fn();
        })
        // After giving up the promise is settled already; a late settle is a no-op.
        .then((v) => resolve(v as T), reject);
    });
  }

  #full(cause?: unknown): ResilienceError {
    return new ResilienceError(
      'bulkhead_full',
      `bulkhead ${this.name} is full (${this.settings.maxConcurrentCalls} concurrent calls)`,
      { instance: this.name, cause },
    );
  }
}
