export interface ThrottleOptions {
  /** Delay after the first failure; doubles with each further failure. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Failures older than this are forgotten. */
  readonly windowMs?: number;
  /** Clients tracked at most; the oldest entry goes first (bounded memory under a spray of client ids). */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

/**
 * Slows down guessing: after n recent failures under one key each further attempt under that key waits
 * base·2^(n-1) ms (capped) before the credential is compared, right or wrong, so a guesser learns nothing faster. A
 * success clears the record. Callers key by credential AND source address ({@link FailureThrottle.key}): keyed by the
 * credential alone, anyone could make the legitimate client wait by failing on purpose.
 */
export class FailureThrottle {
  /** The key of attempts for `subject` (a client id, a username) from `source` (an {@link addressKey}). */
  static key(subject: string, source: string): string {
    // A newline cannot occur in a client id, a username or an address, so no two pairs share a key.
    return `${source}\n${subject}`;
  }

  readonly #failures = new Map<string, { count: number; last: number }>();
  readonly #base: number;
  readonly #max: number;
  readonly #window: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: ThrottleOptions = {}) {
    this.#base = options.baseDelayMs ?? 100;
    this.#max = options.maxDelayMs ?? 2000;
    this.#window = options.windowMs ?? 15 * 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  delayFor(key: string): number {
    const entry = this.#failures.get(key);
    if (entry === undefined) return 0;
    if (this.#now() - entry.last > this.#window) {
      this.#failures.delete(key);
      return 0;
    }
    return Math.min(this.#base * 2 ** (entry.count - 1), this.#max);
  }

  failed(key: string): void {
    const entry = this.#failures.get(key);
    this.#failures.delete(key); // re-inserted last: Map order is the eviction order
    this.#failures.set(key, { count: (entry?.count ?? 0) + 1, last: this.#now() });
    if (this.#failures.size > this.#maxEntries) {
      const oldest = this.#failures.keys().next();
      if (oldest.done !== true) this.#failures.delete(oldest.value);
    }
  }

  succeeded(key: string): void {
    this.#failures.delete(key);
  }
}
