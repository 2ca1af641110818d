// The time limiter's deadline queue with fake timers: one timer serves every pending call of a limiter.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeLimiter } from '../../src/resilience/time-limiter.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('TimeLimiter deadlines', () => {
  it('times each call out at its own deadline, however many calls finished before it', async () => {
    const limiter = new TimeLimiter({ name: 'product', settings: { timeoutDurationMs: 1000 } });
    const fast = limiter.execute(() => new Promise((r) => setTimeout(() => r('fast'), 10)));
    await vi.advanceTimersByTimeAsync(400);
    const signals: AbortSignal[] = [];
    const slow = limiter
      .execute((signal) => {
        signals.push(signal);
        return never();
      })
      .catch((e: unknown) => e);
    expect(await fast).toBe('fast');
    await vi.advanceTimersByTimeAsync(999);
    expect(signals[0]?.aborted).toBe(false);
    expect(limiter.pendingCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await slow).toMatchObject({ code: 'timeout', instance: 'product' });
    expect(signals[0]?.aborted).toBe(true);
    expect((signals[0]?.reason as { code?: string }).code).toBe('timeout');
    expect(limiter.pendingCalls).toBe(0);
  });

  it('times out several pending calls in the order they started', async () => {
    const limiter = new TimeLimiter({ name: 'p', settings: { timeoutDurationMs: 100 } });
    const order: number[] = [];
    const a = limiter.execute(never).catch(() => order.push(1));
    await vi.advanceTimersByTimeAsync(30);
    const b = limiter.execute(never).catch(() => order.push(2));
    await vi.advanceTimersByTimeAsync(30);
    const c = limiter.execute(never).catch(() => order.push(3));
    await vi.advanceTimersByTimeAsync(40);
    expect(order).toEqual([1]);
    await vi.advanceTimersByTimeAsync(30);
    expect(order).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(30);
    await Promise.all([a, b, c]);
    expect(order).toEqual([1, 2, 3]);
  });

  it('answers a call that throws synchronously with its error', async () => {
    const limiter = new TimeLimiter({ name: 'p' });
    const boom = new Error('sync');
    const err = await limiter
      .execute(() => {
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
  });
});
