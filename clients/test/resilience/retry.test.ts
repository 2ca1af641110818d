import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RETRY_DEFAULTS, type RetrySettings } from '../../src/resilience/config.ts';
import { Retry, retryInterval } from '../../src/resilience/retry.ts';

class Boom extends Error {
  override readonly name = 'Boom';
}
class BadRequest extends Error {
  override readonly name = 'BadRequest';
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Runs a retry to its end, moving fake time along; returns the value or the error. */
async function settle<T>(p: Promise<T>): Promise<unknown> {
  const caught = p.catch((e: unknown) => e);
  await vi.runAllTimersAsync();
  return caught;
}

describe('Retry', () => {
  it('makes maxAttempts calls in all, the first one included', async () => {
    const r = new Retry({ name: 'product', settings: { maxAttempts: 3, waitDurationMs: 100 } });
    const call = vi.fn(() => Promise.reject(new Boom('down')));
    const err = await settle(r.execute(call));
    expect(err).toBeInstanceOf(Boom);
    expect(call).toHaveBeenCalledTimes(3);
    expect(r.metrics()).toEqual({
      numberOfSuccessfulCallsWithoutRetryAttempt: 0,
      numberOfSuccessfulCallsWithRetryAttempt: 0,
      numberOfFailedCallsWithoutRetryAttempt: 0,
      numberOfFailedCallsWithRetryAttempt: 1,
    });
    expect(r.events().map((e) => [e.type, e.numberOfAttempts])).toEqual([
      ['RETRY', 1],
      ['RETRY', 2],
      ['ERROR', 3],
    ]);
  });

  it('does not retry with maxAttempts 1', async () => {
    const r = new Retry({ name: 'product', settings: { maxAttempts: 1 } });
    const call = vi.fn(() => Promise.reject(new Boom('down')));
    await settle(r.execute(call));
    expect(call).toHaveBeenCalledTimes(1);
    expect(r.metrics().numberOfFailedCallsWithoutRetryAttempt).toBe(1);
  });

  it('stops at the first success and tells the call its attempt number', async () => {
    const r = new Retry({ name: 'product', settings: { maxAttempts: 5, waitDurationMs: 10 } });
    const attempts: number[] = [];
    const value = await settle(
      r.execute(({ attempt }) => {
        attempts.push(attempt);
        return attempt < 2 ? Promise.reject(new Boom('once')) : Promise.resolve('ok');
      }),
    );
    expect(value).toBe('ok');
    expect(attempts).toEqual([1, 2]);
    expect(r.metrics().numberOfSuccessfulCallsWithRetryAttempt).toBe(1);
    await settle(r.execute(() => 'first time'));
    expect(r.metrics().numberOfSuccessfulCallsWithoutRetryAttempt).toBe(1);
  });

  it('waits waitDuration between attempts', async () => {
    const r = new Retry({ name: 'product', settings: { maxAttempts: 2, waitDurationMs: 500 } });
    const call = vi.fn(() => Promise.reject(new Boom('down')));
    const done = r.execute(call).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(499);
    expect(call).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(call).toHaveBeenCalledTimes(2);
    expect(await done).toBeInstanceOf(Boom);
  });

  it('waits exponentially longer, up to exponentialMaxWaitDuration', async () => {
    const r = new Retry({
      name: 'product',
      settings: {
        maxAttempts: 5,
        waitDurationMs: 100,
        enableExponentialBackoff: true,
        exponentialBackoffMultiplier: 2,
        exponentialMaxWaitDurationMs: 300,
      },
    });
    const at: number[] = [];
    const start = Date.now();
    await settle(
      r.execute(() => {
        at.push(Date.now() - start);
        return Promise.reject(new Boom('down'));
      }),
    );
    expect(at).toEqual([0, 100, 300, 600, 900]);
  });

  it('never retries ignoreExceptions, even when retryExceptions lists them', async () => {
    const r = new Retry({
      name: 'product',
      settings: { maxAttempts: 3, waitDurationMs: 1, retryExceptions: ['Error'], ignoreExceptions: ['BadRequest'] },
    });
    const call = vi.fn(() => Promise.reject(new BadRequest('no')));
    expect(await settle(r.execute(call))).toBeInstanceOf(BadRequest);
    expect(call).toHaveBeenCalledTimes(1);
    expect(r.events().map((e) => e.type)).toEqual(['IGNORED_ERROR']);
    expect(r.metrics().numberOfFailedCallsWithoutRetryAttempt).toBe(1);
  });

  it('retries only retryExceptions when they are given', async () => {
    const r = new Retry({
      name: 'product',
      settings: { maxAttempts: 3, waitDurationMs: 1, retryExceptions: ['ECONNRESET'] },
    });
    const reset = vi.fn(() => Promise.reject(Object.assign(new Error('reset'), { code: 'ECONNRESET' })));
    await settle(r.execute(reset));
    expect(reset).toHaveBeenCalledTimes(3);
    const other = vi.fn(() => Promise.reject(new Boom('x')));
    await settle(r.execute(other));
    expect(other).toHaveBeenCalledTimes(1);
  });

  it('uses the predicates given in code', async () => {
    const r = new Retry({
      name: 'product',
      settings: { maxAttempts: 3, waitDurationMs: 1 },
      retryException: (err) => err instanceof Boom && err.message === 'transient',
    });
    const transient = vi.fn(() => Promise.reject(new Boom('transient')));
    await settle(r.execute(transient));
    expect(transient).toHaveBeenCalledTimes(3);
    const permanent = vi.fn(() => Promise.reject(new Boom('permanent')));
    await settle(r.execute(permanent));
    expect(permanent).toHaveBeenCalledTimes(1);
  });
});

describe('retryInterval', () => {
  const base: RetrySettings = { ...RETRY_DEFAULTS, waitDurationMs: 1000 };

  it('is waitDuration for every retry without backoff', () => {
    expect([1, 2, 3].map((n) => retryInterval(base, n))).toEqual([1000, 1000, 1000]);
  });

  it('multiplies by exponentialBackoffMultiplier and stops at the maximum', () => {
    const s = {
      ...base,
      enableExponentialBackoff: true,
      exponentialBackoffMultiplier: 2,
      exponentialMaxWaitDurationMs: 5000,
    };
    expect([1, 2, 3, 4, 5].map((n) => retryInterval(s, n))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });

  it('keeps randomized waits within ± randomizedWaitFactor of the exponential wait', () => {
    const s = {
      ...base,
      enableExponentialBackoff: true,
      exponentialBackoffMultiplier: 2,
      enableRandomizedWait: true,
      randomizedWaitFactor: 0.5,
    };
    // Retry 3: 4000 ms, so waits fall in [2000, 6000].
    expect(retryInterval(s, 3, () => 0)).toBe(2000);
    expect(retryInterval(s, 3, () => 0.5)).toBe(4000);
    expect(retryInterval(s, 3, () => 0.999999)).toBe(6000);
    for (let i = 0; i < 200; i++) {
      const w = retryInterval(s, 3);
      expect(w).toBeGreaterThanOrEqual(2000);
      expect(w).toBeLessThanOrEqual(6000);
    }
  });

  it('never exceeds exponentialMaxWaitDuration, jitter included', () => {
    const s = {
      ...base,
      enableExponentialBackoff: true,
      exponentialBackoffMultiplier: 2,
      exponentialMaxWaitDurationMs: 3000,
      enableRandomizedWait: true,
      randomizedWaitFactor: 0.5,
    };
    expect(retryInterval(s, 5, () => 0.999)).toBe(3000);
    expect(retryInterval(s, 5, () => 0)).toBe(1500);
  });

  it('randomizes a fixed wait too', () => {
    const s = { ...base, enableRandomizedWait: true, randomizedWaitFactor: 0.2 };
    expect(retryInterval(s, 1, () => 0)).toBe(800);
    expect(retryInterval(s, 7, () => 0.999999)).toBe(1200);
  });
});
