// Counters and timers bound to one label set that cost an addition: a small request or a Kafka record takes a few µs,
// and prom-client's own children validate and hash their labels on every call (about 0.5–1 µs each).
import type { Counter, Histogram } from 'prom-client';

/** prom-client's record of one label set of a counter (lib/counter.js, 15.x). */
interface CounterEntry {
  readonly labels: Readonly<Record<string, string | number>>;
  value: number;
}

/** prom-client's record of one label set of a histogram (lib/histogram.js, 15.x). */
interface HistogramEntry {
  readonly labels: Readonly<Record<string, string | number>>;
  sum: number;
  count: number;
  readonly bucketValues: Record<number, number>;
}

function entryOf<E extends { labels: Readonly<Record<string, string | number>> }>(
  hashMap: Record<string, E> | undefined,
  labels: Readonly<Record<string, string>>,
): E | undefined {
  const wanted = Object.entries(labels);
  return Object.values(hashMap ?? {}).find(
    (e) => Object.keys(e.labels).length === wanted.length && wanted.every(([k, v]) => e.labels[k] === v),
  );
}

/**
 * A counter for one label set, shown at 0 from the start (so `rate()` sees the first increment). It adds to
 * prom-client's entry for those labels, shared with any other binding of the same labels; should that internal shape
 * change, it falls back to prom-client's `inc` (the kit's and the binders' observability tests fail on a wrong count either way).
 */
export function boundCounter<L extends string>(
  counter: Counter<L>,
  labels: Readonly<Record<L, string>>,
): { inc(): void } {
  counter.inc(labels, 0);
  const entry = entryOf((counter as unknown as { hashMap?: Record<string, CounterEntry> }).hashMap, labels);
  if (entry === undefined || typeof entry.value !== 'number') return { inc: () => counter.inc(labels) };
  return {
    inc() {
      entry.value += 1;
    },
  };
}

/** A histogram for one label set that only adds, on the same terms as boundCounter. */
export function boundTimer<L extends string>(
  histogram: Histogram<L>,
  labels: Readonly<Record<L, string>>,
): { observe(seconds: number): void } {
  const internal = histogram as unknown as { hashMap?: Record<string, HistogramEntry>; upperBounds?: number[] };
  // An entry another binding of the same labels made is shared, not zeroed.
  if (entryOf(internal.hashMap, labels) === undefined) histogram.zero(labels);
  const entry = entryOf(internal.hashMap, labels);
  const bounds = internal.upperBounds;
  if (entry === undefined || bounds === undefined || typeof entry.bucketValues !== 'object') {
    return { observe: (seconds) => histogram.observe(labels, seconds) };
  }
  return {
    observe(seconds) {
      entry.sum += seconds;
      entry.count += 1;
      for (const bound of bounds) {
        if (seconds <= bound) {
          entry.bucketValues[bound] = (entry.bucketValues[bound] ?? 0) + 1;
          return;
        }
      }
    },
  };
}
