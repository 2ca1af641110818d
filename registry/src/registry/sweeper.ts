// The timer that runs the eviction sweep, and the log lines an operator needs from it. Kept apart from the model so
// the model stays free of timers; tests drive it with fake timers.
import type { Logger } from '@trellis/kit';
import type { Registry } from './registry.ts';

export interface SweeperOptions {
  readonly registry: Registry;
  readonly intervalMs: number;
  readonly log: Logger;
}

/**
 * Runs `registry.evictExpired()` every `intervalMs`; logs each eviction and each self-preservation change.
 * @example const sweeper = startSweeper({ registry, intervalMs: 5000, log }); service.onShutdown('eviction', sweeper.stop);
 */
export function startSweeper(options: SweeperOptions): { stop(): void } {
  const { registry, log } = options;
  let engaged = false;
  const sweep = (): void => {
    try {
      const report = registry.evictExpired();
      for (const entry of report.evicted) log.info({ app: entry.app, id: entry.id }, 'lease expired; instance evicted');
      const state = report.selfPreservation;
      if (state.engaged !== engaged) {
        engaged = state.engaged;
        if (engaged) log.warn({ selfPreservation: state }, state.explanation);
        else log.info({ selfPreservation: state }, state.explanation);
      }
      if (report.evicted.length < report.expired && !state.engaged) {
        log.info({ expired: report.expired, limit: report.limit }, 'more leases expired than one sweep may evict');
      }
    } catch (err) {
      // A throwing sweep must not stop the timer: the next one may succeed and dead instances must still go.
      log.error({ err }, 'eviction sweep failed');
    }
  };
  const timer = setInterval(sweep, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
