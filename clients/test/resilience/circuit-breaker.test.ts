// Resilience4j's circuit breaker rules, each edge driven with fake timers (time only moves when the test says so).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../src/resilience/circuit-breaker.ts';
import type { CircuitBreakerSettings } from '../../src/resilience/config.ts';
import { ResilienceError } from '../../src/resilience/errors.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

class Boom extends Error {
  override readonly name = 'Boom';
}
class NotFound extends Error {
  override readonly name = 'NotFound';
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-05-01T10:00:00.000Z') });
});
afterEach(() => {
  vi.useRealTimers();
});

function breaker(
  settings: Partial<CircuitBreakerSettings>,
  extra: { logger?: ReturnType<typeof captureLogger>['logger'] } = {},
) {
  return new CircuitBreaker({ name: 'product', settings, ...extra });
}

const ok = (b: CircuitBreaker): Promise<string> => b.execute(() => 'ok');
const fail = (b: CircuitBreaker, err: Error = new Boom('down')): Promise<unknown> =>
  b.execute(() => Promise.reject(err)).catch((e: unknown) => e);
/** A call that takes `ms` of (fake) time. */
async function take(b: CircuitBreaker, ms: number, failing = false): Promise<unknown> {
  const p = b
    .execute(
      () =>
        new Promise((resolve, reject) => setTimeout(() => (failing ? reject(new Boom('slow')) : resolve('slow')), ms)),
    )
    .catch((e: unknown) => e);
  await vi.advanceTimersByTimeAsync(ms);
  return p;
}

const small = { slidingWindowSize: 10, minimumNumberOfCalls: 10, waitDurationInOpenStateMs: 10_000 };

describe('CircuitBreaker thresholds', () => {
  it('opens when the failure rate is exactly the threshold (>=, not >)', async () => {
    const b = breaker({ ...small, failureRateThreshold: 50 });
    for (let i = 0; i < 5; i++) await ok(b);
    for (let i = 0; i < 4; i++) await fail(b);
    expect(b.state).toBe('CLOSED');
    await fail(b); // 5 of 10 = 50 %
    expect(b.state).toBe('OPEN');
    expect(b.metrics()).toMatchObject({ failureRate: 50, bufferedCalls: 10, failedCalls: 5 });
  });

  it('stays closed just below the threshold', async () => {
    const b = breaker({ ...small, failureRateThreshold: 50.1 });
    for (let i = 0; i < 5; i++) await ok(b);
    for (let i = 0; i < 5; i++) await fail(b);
    expect(b.state).toBe('CLOSED');
    expect(b.metrics().failureRate).toBe(50);
  });

  it('judges nothing before minimumNumberOfCalls are buffered, and reports the rates as -1', async () => {
    const b = breaker({ slidingWindowSize: 20, minimumNumberOfCalls: 5 });
    for (let i = 0; i < 4; i++) await fail(b);
    expect(b.state).toBe('CLOSED');
    expect(b.metrics()).toMatchObject({ failureRate: -1, slowCallRate: -1, bufferedCalls: 4, failedCalls: 4 });
    await fail(b);
    expect(b.state).toBe('OPEN');
  });

  it('caps minimumNumberOfCalls at a COUNT_BASED window size, as Resilience4j does', async () => {
    const b = breaker({ slidingWindowSize: 4, minimumNumberOfCalls: 100 });
    for (let i = 0; i < 3; i++) await fail(b);
    expect(b.state).toBe('CLOSED');
    await fail(b);
    expect(b.state).toBe('OPEN');
  });

  it('forgets calls that slid out of a COUNT_BASED window', async () => {
    const b = breaker({ slidingWindowSize: 4, minimumNumberOfCalls: 4, failureRateThreshold: 75 });
    await fail(b);
    await fail(b);
    await ok(b);
    await ok(b); // 2 of 4
    await ok(b); // the first failure slides out: 1 of 4
    expect(b.metrics()).toMatchObject({ bufferedCalls: 4, failedCalls: 1 });
    await fail(b); // replaces the second failure: still 1 of 4
    expect(b.metrics().failedCalls).toBe(1);
    await fail(b); // replaces a success: 2 of 4
    expect(b.metrics().failedCalls).toBe(2);
    expect(b.state).toBe('CLOSED');
    await fail(b); // 3 of 4 = 75 %
    expect(b.state).toBe('OPEN');
  });

  it('counts a call as slow only above slowCallDurationThreshold, and opens at the slow-call rate', async () => {
    const b = breaker({
      slidingWindowSize: 4,
      minimumNumberOfCalls: 4,
      slowCallDurationThresholdMs: 100,
      slowCallRateThreshold: 50,
    });
    await take(b, 100); // exactly at the threshold: not slow
    await take(b, 101);
    await take(b, 10);
    expect(b.metrics()).toMatchObject({ bufferedCalls: 3, slowCalls: 1, failedCalls: 0 });
    expect(b.state).toBe('CLOSED');
    await take(b, 150, true); // slow and failed: 2 of 4 slow = 50 %, 1 of 4 failed = 25 %
    expect(b.metrics()).toMatchObject({ slowCalls: 2, slowFailedCalls: 1, slowCallRate: 50, failureRate: 25 });
    expect(b.state).toBe('OPEN');
  });

  it('neither counts ignored errors nor opens on them', async () => {
    const b = breaker({ slidingWindowSize: 2, minimumNumberOfCalls: 2, ignoreExceptions: ['NotFound'] });
    for (let i = 0; i < 5; i++) expect(await fail(b, new NotFound('no such product'))).toBeInstanceOf(NotFound);
    expect(b.metrics().bufferedCalls).toBe(0);
    expect(b.state).toBe('CLOSED');
    expect(b.events().map((e) => e.type)).toEqual(Array(5).fill('IGNORED_ERROR'));
  });

  it('counts errors outside recordExceptions as successes', async () => {
    const b = breaker({ slidingWindowSize: 2, minimumNumberOfCalls: 2, recordExceptions: ['Boom'] });
    await fail(b, new NotFound('x'));
    await fail(b, new NotFound('x'));
    expect(b.metrics()).toMatchObject({ bufferedCalls: 2, failedCalls: 0, successfulCalls: 2 });
    expect(b.state).toBe('CLOSED');
    await fail(b);
    await fail(b);
    expect(b.state).toBe('OPEN');
  });

  it('lets ignoreExceptions win over recordExceptions and matches codes', async () => {
    const b = breaker({
      slidingWindowSize: 2,
      minimumNumberOfCalls: 2,
      recordExceptions: ['Error'],
      ignoreExceptions: ['ENOENT'],
    });
    const enoent = Object.assign(new Error('missing'), { code: 'ENOENT' });
    await fail(b, enoent);
    expect(b.metrics().bufferedCalls).toBe(0);
    await fail(b, new Boom('x')); // Boom extends Error: recorded
    expect(b.metrics().failedCalls).toBe(1);
  });

  it('records results a predicate marks as failures', async () => {
    const b = new CircuitBreaker({
      name: 'review',
      settings: { slidingWindowSize: 2, minimumNumberOfCalls: 2 },
      recordResult: (v) => (v as { status: number }).status >= 500,
    });
    expect(await b.execute(() => ({ status: 503 }))).toEqual({ status: 503 });
    await b.execute(() => ({ status: 500 }));
    expect(b.state).toBe('OPEN');
  });
});

describe('CircuitBreaker states', () => {
  async function opened(settings: Partial<CircuitBreakerSettings> = {}): Promise<CircuitBreaker> {
    const b = breaker({
      slidingWindowSize: 2,
      minimumNumberOfCalls: 2,
      waitDurationInOpenStateMs: 10_000,
      ...settings,
    });
    await fail(b);
    await fail(b);
    expect(b.state).toBe('OPEN');
    return b;
  }

  it('refuses calls while OPEN without running them, counting them as not permitted', async () => {
    const b = await opened();
    const call = vi.fn(() => 'ok');
    const err = await b.execute(call).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResilienceError);
    expect((err as ResilienceError).code).toBe('call_not_permitted');
    expect((err as ResilienceError).status).toBe(503);
    expect(call).not.toHaveBeenCalled();
    expect(b.metrics().notPermittedCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(await fail(b)).toBeInstanceOf(ResilienceError);
    expect(b.state).toBe('OPEN');
  });

  it('moves to HALF_OPEN on the first call after waitDurationInOpenState, and closes when the trial calls succeed', async () => {
    const b = await opened({ permittedNumberOfCallsInHalfOpenState: 3 });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.state).toBe('OPEN'); // no automatic transition by default
    await ok(b);
    expect(b.state).toBe('HALF_OPEN');
    await ok(b);
    await fail(b); // 1 of 3 failed: 33 % < 50 %
    expect(b.state).toBe('CLOSED');
    expect(b.metrics()).toMatchObject({ bufferedCalls: 0, failedCalls: 0 });
  });

  it('opens again when the trial calls fail at the threshold', async () => {
    const b = await opened({ permittedNumberOfCallsInHalfOpenState: 2 });
    await vi.advanceTimersByTimeAsync(10_000);
    await ok(b);
    await fail(b); // 1 of 2 = 50 %
    expect(b.state).toBe('OPEN');
    expect(await fail(b)).toMatchObject({ code: 'call_not_permitted' });
  });

  it('permits only permittedNumberOfCallsInHalfOpenState calls at a time in HALF_OPEN', async () => {
    const b = await opened({ permittedNumberOfCallsInHalfOpenState: 2 });
    await vi.advanceTimersByTimeAsync(10_000);
    const pending = [take(b, 50), take(b, 50)];
    const third = await fail(b);
    expect(third).toMatchObject({ code: 'call_not_permitted' });
    expect(b.state).toBe('HALF_OPEN');
    await Promise.all(pending);
    expect(b.state).toBe('CLOSED');
  });

  it('gives the trial slot back after an ignored error in HALF_OPEN', async () => {
    const b = await opened({ permittedNumberOfCallsInHalfOpenState: 1, ignoreExceptions: ['NotFound'] });
    await vi.advanceTimersByTimeAsync(10_000);
    await fail(b, new NotFound('x'));
    expect(b.state).toBe('HALF_OPEN');
    await ok(b);
    expect(b.state).toBe('CLOSED');
  });

  it('moves to HALF_OPEN by itself with automaticTransitionFromOpenToHalfOpenEnabled', async () => {
    const b = await opened({ automaticTransitionFromOpenToHalfOpenEnabled: true });
    await vi.advanceTimersByTimeAsync(9_999);
    expect(b.state).toBe('OPEN');
    await vi.advanceTimersByTimeAsync(1);
    expect(b.state).toBe('HALF_OPEN');
  });

  it('goes back to OPEN when HALF_OPEN waits longer than maxWaitDurationInHalfOpenState', async () => {
    const b = await opened({
      automaticTransitionFromOpenToHalfOpenEnabled: true,
      maxWaitDurationInHalfOpenStateMs: 5_000,
    });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(b.state).toBe('HALF_OPEN');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.state).toBe('OPEN');
  });

  it('keeps no metrics and never opens when DISABLED', async () => {
    const b = breaker({ slidingWindowSize: 2, minimumNumberOfCalls: 2 });
    b.transitionToDisabledState();
    for (let i = 0; i < 5; i++) await fail(b);
    expect(b.state).toBe('DISABLED');
    expect(b.metrics().bufferedCalls).toBe(0);
  });

  it('refuses every call when FORCED_OPEN, whatever the time', async () => {
    const b = breaker({ waitDurationInOpenStateMs: 1000 });
    b.transitionToForcedOpenState();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await fail(b)).toMatchObject({ code: 'call_not_permitted' });
    expect(b.state).toBe('FORCED_OPEN');
    expect(b.metrics().notPermittedCalls).toBe(1);
    b.transitionToClosedState();
    expect(await ok(b)).toBe('ok');
  });

  it('records but never opens in METRICS_ONLY', async () => {
    const b = breaker({ slidingWindowSize: 2, minimumNumberOfCalls: 2, initialState: 'METRICS_ONLY' });
    expect(b.state).toBe('METRICS_ONLY');
    for (let i = 0; i < 4; i++) await fail(b);
    expect(b.state).toBe('METRICS_ONLY');
    expect(b.metrics()).toMatchObject({ bufferedCalls: 2, failedCalls: 2, failureRate: 100 });
  });

  it('does not let a call that began before a state change decide the new state', async () => {
    const b = breaker({ slidingWindowSize: 2, minimumNumberOfCalls: 2 });
    const late = take(b, 100, true);
    b.transitionToOpenState();
    b.transitionToHalfOpenState();
    await late;
    expect(b.state).toBe('HALF_OPEN');
    expect(b.metrics().bufferedCalls).toBe(0);
  });

  it('resets to CLOSED with empty metrics', async () => {
    const b = await opened();
    b.reset();
    expect(b.state).toBe('CLOSED');
    expect(b.metrics().bufferedCalls).toBe(0);
    expect(b.events().at(-1)?.type).toBe('RESET');
  });
});

describe('CircuitBreaker TIME_BASED window', () => {
  it('counts only the calls of the last slidingWindowSize seconds', async () => {
    const b = breaker({ slidingWindowType: 'TIME_BASED', slidingWindowSize: 10, minimumNumberOfCalls: 2 });
    await fail(b);
    await vi.advanceTimersByTimeAsync(10_000); // the first failure's second has left the 10-second window
    await fail(b);
    expect(b.metrics().bufferedCalls).toBe(1);
    expect(b.state).toBe('CLOSED');
    await vi.advanceTimersByTimeAsync(9_000); // still within 10 seconds of the second failure
    await fail(b);
    expect(b.state).toBe('OPEN');
  });

  it('does not cap minimumNumberOfCalls at the window size', async () => {
    const b = breaker({ slidingWindowType: 'TIME_BASED', slidingWindowSize: 2, minimumNumberOfCalls: 5 });
    for (let i = 0; i < 4; i++) await fail(b);
    expect(b.state).toBe('CLOSED');
    await fail(b);
    expect(b.state).toBe('OPEN');
  });
});

describe('CircuitBreaker events and logs', () => {
  it('logs each state change and keeps the last events', async () => {
    const { logger, lines } = captureLogger('info');
    const b = breaker(
      { slidingWindowSize: 2, minimumNumberOfCalls: 2, waitDurationInOpenStateMs: 1000, eventConsumerBufferSize: 4 },
      { logger },
    );
    await fail(b);
    await fail(b);
    await vi.advanceTimersByTimeAsync(1000);
    await ok(b);
    const changes = lines.filter((l) => l.circuitBreaker === 'product');
    expect(changes.map((l) => [l.level, l.stateTransition])).toEqual([
      [40, 'CLOSED_TO_OPEN'],
      [30, 'OPEN_TO_HALF_OPEN'],
    ]);
    expect(changes[0]).toMatchObject({ failureRate: 100, msg: 'circuit breaker product CLOSED -> OPEN' });
    const events = b.events();
    expect(events).toHaveLength(4);
    expect(events.map((e) => e.type)).toEqual([
      'FAILURE_RATE_EXCEEDED',
      'STATE_TRANSITION',
      'STATE_TRANSITION',
      'SUCCESS',
    ]);
    expect(events[1]).toEqual({
      circuitBreakerName: 'product',
      type: 'STATE_TRANSITION',
      creationTime: '2026-05-01T10:00:00.000Z',
      stateTransition: 'CLOSED_TO_OPEN',
    });
  });
});
