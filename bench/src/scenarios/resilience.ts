// Resilience: what CircuitBreaker+Retry+TimeLimiter add to a 1 ms call.
import { createResilience } from '@trellis/clients/resilience';
import { median } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

/**
 * The dependency: an in-process call that answers 1 ms after it starts, turning the event loop meanwhile as I/O
 * would. It polls with setImmediate rather than sleeping on setTimeout(1): Node's timers count whole milliseconds
 * from the loop's clock, so a setTimeout(1) call lasts 1.1-1.5 ms depending on where in the millisecond it began, and
 * a few µs of extra work can move it by a whole tick, which measures the timer, not the wrapper.
 */
const oneMs = (): Promise<number> =>
  new Promise((resolve) => {
    const end = performance.now() + 1;
    const poll = (): void => {
      if (performance.now() >= end) resolve(1);
      else setImmediate(poll);
    };
    setImmediate(poll);
  });

/** The same call on a 1 ms timer, reported for reference (see above why it is not the measure). */
const oneMsTimer = (): Promise<number> => new Promise((resolve) => setTimeout(() => resolve(1), 1));

async function timeCalls(calls: number, fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  return performance.now() - start;
}

/**
 * What CircuitBreaker+Retry+TimeLimiter add to a 1 ms call, in process. Direct and wrapped calls run in short
 * alternating batches in the same run, and the figure is the median of the paired batches' overheads: a timer-driven
 * 1 ms call varies by ±10 % from batch to batch on a shared machine, and the median of pairs keeps a burst of other
 * work from landing on one side only.
 */
interface Measured {
  readonly overheadPct: number;
  /** Median of the paired batches' differences, per call. */
  readonly addedUs: number;
  readonly directMs: number;
  readonly wrappedMs: number;
  readonly pairs: number;
  readonly batch: number;
}

async function measure(
  direct: () => Promise<number>,
  wrapped: () => Promise<number>,
  seconds: number,
): Promise<Measured> {
  const batch = 25;
  const pairs = Math.max(4, Math.round((seconds * 1000) / (batch * 1.2)));
  await timeCalls(200, direct); // warm-up: JIT and timer lists
  await timeCalls(200, wrapped);
  const overheads: number[] = [];
  const added: number[] = [];
  let directTotal = 0;
  let wrappedTotal = 0;
  for (let r = 0; r < pairs; r++) {
    // Alternate which goes first, so neither always runs right after a GC of the other's garbage.
    let d: number;
    let w: number;
    if (r % 2 === 0) {
      d = await timeCalls(batch, direct);
      w = await timeCalls(batch, wrapped);
    } else {
      w = await timeCalls(batch, wrapped);
      d = await timeCalls(batch, direct);
    }
    directTotal += d;
    wrappedTotal += w;
    overheads.push(((w - d) / d) * 100);
    added.push(((w - d) / batch) * 1000);
  }
  const calls = pairs * batch;
  return {
    overheadPct: median(overheads),
    addedUs: median(added),
    directMs: directTotal / calls,
    wrappedMs: wrappedTotal / calls,
    pairs,
    batch,
  };
}

const immediate = (): Promise<number> => Promise.resolve(1);

/** The wrapper's own work per call: a call that answers at once, wrapped and not, in paired batches. */
async function cpuCost(wrapped: () => Promise<number>): Promise<number> {
  const batch = 2000;
  await timeCalls(batch, immediate);
  await timeCalls(batch, wrapped);
  const added: number[] = [];
  for (let r = 0; r < 40; r++) {
    const d = await timeCalls(batch, immediate);
    const w = await timeCalls(batch, wrapped);
    added.push(((w - d) / batch) * 1000);
  }
  return median(added);
}

function describe(m: Measured): string {
  return (
    `median of ${m.pairs} paired batches of ${m.batch} calls; mean direct ${m.directMs.toFixed(3)} ms, ` +
    `wrapped ${m.wrappedMs.toFixed(3)} ms`
  );
}

/**
 * What CircuitBreaker+Retry+TimeLimiter add to a 1 ms call, in process. Direct and wrapped calls run in short
 * alternating batches in the same run, and the figure is the median of the paired batches' overheads, so a burst of
 * other work on a shared machine does not land on one side only.
 */
export const resilience: Scenario = {
  name: 'resilience',
  async run({ figure }) {
    const registry = createResilience({
      config: {
        circuitbreaker: { instances: { bench: { slidingWindowSize: 100, minimumNumberOfCalls: 100 } } },
        retry: { instances: { bench: { maxAttempts: 3, waitDuration: '10ms' } } },
        timelimiter: { instances: { bench: { timeoutDuration: '1s' } } },
      },
    });
    const seconds = Number(process.env.BENCH_DURATION ?? '5');
    const precise = await measure(oneMs, () => registry.execute('bench', oneMs), seconds);
    const timer = await measure(oneMsTimer, () => registry.execute('bench', oneMsTimer), seconds);
    const cpuUs = await cpuCost(() => registry.execute('bench', immediate));
    const breaker = registry.circuitBreaker('bench');
    if (breaker.state !== 'CLOSED' || breaker.metrics().failedCalls > 0) throw new Error('bench calls failed');
    registry.close();
    figure('resilience CB+Retry+TL overhead on a 1 ms call', precise.overheadPct, '%', {
      max: 5,
      note: describe(precise),
    });
    figure('resilience CB+Retry+TL added time per call', precise.addedUs, 'µs', {
      note: 'median of the paired differences, for reference',
    });
    figure('resilience CB+Retry+TL CPU cost per call', cpuUs, 'µs', {
      note: 'wrapped minus direct for a call that answers at once (no waiting), median of paired batches',
    });
    figure('resilience overhead on a setTimeout(1) call', timer.overheadPct, '%', {
      note: `${describe(timer)}; timer ticks are whole ms, for reference`,
    });
  },
};
