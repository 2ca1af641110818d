// The clock and the capped exponential backoff that the clients (and the registry's peers) retry with.

/**
 * Time as the clients see it. Injected so lease and backoff tests advance time by hand instead of waiting;
 * the default uses the process clock and unreferenced timers, so a forgotten client never keeps a process alive.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Capped exponential backoff between attempts while a registry is unreachable. */
export interface BackoffOptions {
  /** Delay after the first failure. Default 1 s. */
  readonly initialDelayMs?: number;
  /** Largest delay. Default 30 s (Eureka's renewal interval), so a recovered registry is noticed within one lease period. */
  readonly maxDelayMs?: number;
  /** Growth factor between delays. Default 2; the config client uses Spring Retry's 1.1. */
  readonly multiplier?: number;
}

/** The delay before attempt `failures + 1`, after `failures` consecutive failures (1 or more). */
export function backoffDelay(failures: number, options: BackoffOptions = {}): number {
  const initial = options.initialDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 30_000;
  const multiplier = options.multiplier ?? 2;
  return Math.min(max, initial * multiplier ** Math.max(0, Math.min(failures - 1, 30)));
}
