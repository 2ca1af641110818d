import { describe, expect, it } from 'vitest';
import { admitAll, FailureThrottle, type Admitted } from '../src/oidc/throttle.ts';

function admit(t: FailureThrottle, key: string): Admitted {
  const attempt = t.begin(key);
  if (attempt.refused) throw new Error(`refused ${key}, retry after ${attempt.retryAfterSec} s`);
  return attempt;
}

describe('FailureThrottle', () => {
  it('refuses outright after the allowed failures, per key', () => {
    const t = new FailureThrottle({ maxFailures: 3, lockoutMs: 10_000, now: () => 0 });
    for (let i = 0; i < 3; i++) admit(t, 'a').failed();
    expect(t.begin('a')).toEqual({ refused: true, retryAfterSec: 10 });
    expect(t.begin('b').refused).toBe(false);
  });

  it('counts attempts still in flight, so parallel guesses get no more than sequential ones', () => {
    const t = new FailureThrottle({ maxFailures: 3, now: () => 0 });
    const inFlight = [admit(t, 'a'), admit(t, 'a'), admit(t, 'a')];
    expect(t.begin('a')).toEqual({ refused: true, retryAfterSec: 1 });
    // One of them was right: the record is cleared once the others are in.
    inFlight[0]?.succeeded();
    inFlight[1]?.failed();
    inFlight[2]?.failed();
    expect(t.begin('a').refused).toBe(false);
  });

  it('doubles the lockout with each failure after it, up to the cap, admitting one attempt at a time', () => {
    let now = 0;
    const t = new FailureThrottle({ maxFailures: 2, lockoutMs: 1000, maxLockoutMs: 3000, now: () => now });
    admit(t, 'a').failed();
    admit(t, 'a').failed();
    expect(t.begin('a')).toEqual({ refused: true, retryAfterSec: 1 });
    now = 1000;
    const probe = admit(t, 'a');
    expect(t.begin('a').refused).toBe(true); // a second probe while the first is checked
    probe.failed();
    expect(t.begin('a')).toEqual({ refused: true, retryAfterSec: 2 });
    now = 3000;
    admit(t, 'a').failed();
    expect(t.begin('a')).toEqual({ refused: true, retryAfterSec: 3 }); // 4 s capped at 3
    now = 6000;
    admit(t, 'a').succeeded();
    admit(t, 'a').failed();
    expect(t.begin('a').refused).toBe(false);
  });

  it('keeps the failures through a success when told to, so a guesser cannot clear its count with its own login', () => {
    const t = new FailureThrottle({ maxFailures: 3, lockoutMs: 10_000, successClears: false, now: () => 0 });
    admit(t, 'a').failed();
    admit(t, 'a').failed();
    admit(t, 'a').succeeded();
    admit(t, 'a').failed();
    expect(t.begin('a')).toEqual({ refused: true, retryAfterSec: 10 });
  });

  it('admits under several throttles or none, leaving no count behind in the ones before a refusal', async () => {
    const user = new FailureThrottle({ maxFailures: 2, now: () => 0 });
    const source = new FailureThrottle({ maxFailures: 1, lockoutMs: 4000, now: () => 0 });
    const both = await admitAll([user, 'alice'], [source, 'here']);
    if (both.refused) throw new Error('refused');
    both.failed();
    expect(source.begin('here')).toEqual({ refused: true, retryAfterSec: 4 });
    // Refused by the source: the username's slot is given back uncounted, so its one failure left stays.
    for (let i = 0; i < 3; i++) expect((await admitAll([user, 'alice'], [source, 'here'])).refused).toBe(true);
    admit(user, 'alice').failed();
    expect(user.begin('alice').refused).toBe(true);
  });

  it('counts an outcome once, however often it is reported', () => {
    const t = new FailureThrottle({ maxFailures: 2, now: () => 0 });
    const attempt = admit(t, 'a');
    attempt.failed();
    attempt.failed();
    attempt.succeeded();
    expect(t.begin('a').refused).toBe(false);
  });

  it('forgets failures after the window, but not while locked out', () => {
    let now = 0;
    const t = new FailureThrottle({ maxFailures: 2, windowMs: 1000, lockoutMs: 5000, now: () => now });
    admit(t, 'a').failed();
    now = 1001;
    admit(t, 'a').failed();
    expect(t.begin('a').refused).toBe(false);
    admit(t, 'b').failed();
    admit(t, 'b').failed();
    now = 3000;
    expect(t.begin('b').refused).toBe(true);
  });

  it('keeps memory bounded by evicting the least recently used key that is not locked out', () => {
    const t = new FailureThrottle({ maxFailures: 2, maxEntries: 2, now: () => 0 });
    admit(t, 'a').failed();
    admit(t, 'a').failed(); // locked out
    admit(t, 'b').failed();
    admit(t, 'c').failed();
    // b went, though a is older: a guesser cannot push its own lockout out with a spray of fresh names.
    expect(t.begin('a').refused).toBe(true);
    admit(t, 'c').failed();
    expect(t.begin('c').refused).toBe(true);
    expect(t.begin('b').refused).toBe(false);
  });

  it('evicts the oldest when every entry is locked out, so memory stays bounded anyway', () => {
    const t = new FailureThrottle({ maxFailures: 1, maxEntries: 2, now: () => 0 });
    admit(t, 'a').failed();
    admit(t, 'b').failed();
    admit(t, 'c').failed();
    expect(t.begin('a').refused).toBe(false);
    expect(t.begin('c').refused).toBe(true);
  });
});
