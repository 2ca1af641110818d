import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Bulkhead } from '../../src/resilience/bulkhead.ts';
import { ResilienceError } from '../../src/resilience/errors.ts';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A call that finishes when the test says so. */
function gate(): { call: () => Promise<string>; open: () => void } {
  let open!: () => void;
  const done = new Promise<void>((r) => (open = r));
  return { call: () => done.then(() => 'done'), open };
}

describe('Bulkhead', () => {
  it('rejects a call beyond maxConcurrentCalls at once when maxWaitDuration is 0', async () => {
    const b = new Bulkhead({ name: 'review', settings: { maxConcurrentCalls: 2, maxWaitDurationMs: 0 } });
    const g = gate();
    const running = [b.execute(g.call), b.execute(g.call)];
    expect(b.availableConcurrentCalls).toBe(0);
    const third = vi.fn(() => 'third');
    const err = await b.execute(third).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResilienceError);
    expect((err as ResilienceError).code).toBe('bulkhead_full');
    expect((err as ResilienceError).status).toBe(503);
    expect(third).not.toHaveBeenCalled();
    g.open();
    expect(await Promise.all(running)).toEqual(['done', 'done']);
    expect(b.availableConcurrentCalls).toBe(2);
    expect(await b.execute(third)).toBe('third');
  });

  it('lets a call wait up to maxWaitDuration for a slot', async () => {
    const b = new Bulkhead({ name: 'review', settings: { maxConcurrentCalls: 1, maxWaitDurationMs: 100 } });
    const g = gate();
    const first = b.execute(g.call);
    const second = b.execute(() => 'second');
    await vi.advanceTimersByTimeAsync(99);
    g.open();
    expect(await first).toBe('done');
    expect(await second).toBe('second');
  });

  it('gives up on a waiting call after maxWaitDuration, and the slot still passes to the next one', async () => {
    const b = new Bulkhead({ name: 'review', settings: { maxConcurrentCalls: 1, maxWaitDurationMs: 100 } });
    const g = gate();
    const first = b.execute(g.call);
    const expired = vi.fn(() => 'never');
    const waiting = b.execute(expired).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(100);
    expect(await waiting).toMatchObject({ code: 'bulkhead_full' });
    const next = b.execute(() => 'next');
    g.open();
    await first;
    expect(await next).toBe('next');
    expect(expired).not.toHaveBeenCalled();
  });

  it('stops waiting when the caller aborts', async () => {
    const b = new Bulkhead({ name: 'review', settings: { maxConcurrentCalls: 1, maxWaitDurationMs: 10_000 } });
    const g = gate();
    const first = b.execute(g.call);
    const controller = new AbortController();
    const waiting = b.execute(() => 'never', controller.signal).catch((e: unknown) => e);
    const reason = new Error('timed out upstream');
    controller.abort(reason);
    expect(await waiting).toBe(reason);
    g.open();
    await first;
  });
});
