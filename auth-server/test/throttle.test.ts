import { describe, expect, it } from 'vitest';
import { FailureThrottle } from '../src/oidc/throttle.ts';

describe('FailureThrottle', () => {
  it('doubles the delay with each failure up to the cap, per client', () => {
    const t = new FailureThrottle({ baseDelayMs: 100, maxDelayMs: 500, now: () => 0 });
    expect(t.delayFor('a')).toBe(0);
    t.failed('a');
    expect(t.delayFor('a')).toBe(100);
    t.failed('a');
    t.failed('a');
    expect(t.delayFor('a')).toBe(400);
    t.failed('a');
    expect(t.delayFor('a')).toBe(500);
    expect(t.delayFor('b')).toBe(0);
  });

  it('forgets failures after a success or after the window', () => {
    let now = 0;
    const t = new FailureThrottle({ windowMs: 1000, now: () => now });
    t.failed('a');
    t.succeeded('a');
    expect(t.delayFor('a')).toBe(0);
    t.failed('b');
    now = 1001;
    expect(t.delayFor('b')).toBe(0);
  });

  it('keeps memory bounded by evicting the oldest client', () => {
    const t = new FailureThrottle({ maxEntries: 2, now: () => 0 });
    t.failed('a');
    t.failed('b');
    t.failed('c');
    expect(t.delayFor('a')).toBe(0);
    expect(t.delayFor('c')).toBeGreaterThan(0);
  });
});
