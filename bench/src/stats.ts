// Small statistics the scenarios share: medians of rounds, percentiles of latencies, a count to wait for.

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The nearest-rank percentile `p` (0–100) of the samples. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** `hit()` once per message; `done` resolves on the `count`th. */
export function counter(count: number): { hit: () => void; done: Promise<void> } {
  let seen = 0;
  let resolve = (): void => undefined;
  const done = new Promise<void>((r) => (resolve = r));
  return {
    hit: () => {
      if (++seen === count) resolve();
    },
    done,
  };
}
