// Resilience4j's sliding windows: the last N calls (COUNT_BASED) or the calls of the last N epoch seconds
// (TIME_BASED, one bucket per second). Totals are kept up to date on every record so that checking the thresholds
// after each call does not walk the window (TIME_BASED sweeps its buckets once per new second).

/** What one finished call counts as. */
export type Outcome = 'success' | 'failure' | 'slow_success' | 'slow_failure';

export interface WindowSnapshot {
  readonly bufferedCalls: number;
  readonly failedCalls: number;
  /** Slow calls, failed or not. */
  readonly slowCalls: number;
  readonly slowFailedCalls: number;
}

export interface SlidingWindow {
  record(outcome: Outcome): WindowSnapshot;
  snapshot(): WindowSnapshot;
}

interface Totals {
  calls: number;
  failed: number;
  slow: number;
  slowFailed: number;
}

const OUTCOME_CODE = { success: 0, failure: 1, slow_success: 2, slow_failure: 3 } as const satisfies Record<
  Outcome,
  number
>;

function add(t: Totals, code: number, sign: 1 | -1): void {
  t.calls += sign;
  if (code === 1 || code === 3) t.failed += sign;
  if (code === 2 || code === 3) t.slow += sign;
  if (code === 3) t.slowFailed += sign;
}

function snap(t: Totals): WindowSnapshot {
  return { bufferedCalls: t.calls, failedCalls: t.failed, slowCalls: t.slow, slowFailedCalls: t.slowFailed };
}

/** The last `size` calls, in a ring. */
export class CountWindow implements SlidingWindow {
  readonly #ring: Int8Array;
  #next = 0;
  readonly #totals: Totals = { calls: 0, failed: 0, slow: 0, slowFailed: 0 };

  constructor(size: number) {
    this.#ring = new Int8Array(size).fill(-1);
  }

  record(outcome: Outcome): WindowSnapshot {
    const code = OUTCOME_CODE[outcome];
    const old = this.#ring[this.#next] ?? -1;
    if (old !== -1) add(this.#totals, old, -1);
    this.#ring[this.#next] = code;
    add(this.#totals, code, 1);
    this.#next = (this.#next + 1) % this.#ring.length;
    return snap(this.#totals);
  }

  snapshot(): WindowSnapshot {
    return snap(this.#totals);
  }
}

/** The calls of the last `seconds` epoch seconds, the current one included. */
export class TimeWindow implements SlidingWindow {
  readonly #buckets: Totals[];
  /** The epoch second each bucket holds. */
  readonly #bucketSecond: Float64Array;
  readonly #totals: Totals = { calls: 0, failed: 0, slow: 0, slowFailed: 0 };
  readonly #now: () => number;
  #lastSecond = -1;

  constructor(seconds: number, now: () => number) {
    this.#buckets = Array.from({ length: seconds }, () => ({ calls: 0, failed: 0, slow: 0, slowFailed: 0 }));
    this.#bucketSecond = new Float64Array(seconds).fill(-1);
    this.#now = now;
  }

  /** Drops the buckets that fell out of the window, returning the current second's bucket. */
  #advance(): Totals {
    const second = Math.floor(this.#now() / 1000);
    const size = this.#buckets.length;
    const index = second % size;
    // Within the same second nothing can have expired.
    if (second === this.#lastSecond) return this.#buckets[index] as Totals;
    this.#lastSecond = second;
    for (let i = 0; i < size; i++) {
      const held = this.#bucketSecond[i] ?? -1;
      if (held !== -1 && held <= second - size) {
        const b = this.#buckets[i];
        if (b !== undefined) {
          this.#totals.calls -= b.calls;
          this.#totals.failed -= b.failed;
          this.#totals.slow -= b.slow;
          this.#totals.slowFailed -= b.slowFailed;
          b.calls = b.failed = b.slow = b.slowFailed = 0;
        }
        this.#bucketSecond[i] = -1;
      }
    }
    this.#bucketSecond[index] = second;
    return this.#buckets[index] as Totals;
  }

  record(outcome: Outcome): WindowSnapshot {
    const bucket = this.#advance();
    const code = OUTCOME_CODE[outcome];
    add(bucket, code, 1);
    add(this.#totals, code, 1);
    return snap(this.#totals);
  }

  snapshot(): WindowSnapshot {
    this.#advance();
    return snap(this.#totals);
  }
}
