// Failed-credential counts in the shared store (SQLite's data dir, or PostgreSQL): the throttles' decision across
// instances and workers, one atomic increment-and-read per attempt.
import { createHash } from 'node:crypto';
import type { Awaitable, Db } from './db.ts';

/** The window an admitted attempt was counted in (to report its outcome), or how long until the key may try again. */
export type Counted = { readonly windowStart: number } | { readonly retryAfterMs: number };

/** The limit a key's counts are held to: the same numbers as the throttle's own (see throttle.ts). */
export interface Limit {
  /** Failures within the window before the key is locked out. */
  readonly max: number;
  /** Failures are forgotten this long after the last one or after the lockout's end, whichever is later. */
  readonly windowMs: number;
  /** The lockout at the `max`th failure; each failure after it doubles it, up to `maxLockoutMs`. */
  readonly lockoutMs: number;
  readonly maxLockoutMs: number;
  readonly now: number;
}

/**
 * Failures per key, attempts still being checked and the key's lockout, as {@link FailureThrottle} keeps them in
 * memory: after `max` failures the key is locked out for `lockoutMs`, doubling with each failure after that, and
 * every attempt is refused until the lockout ends (then one at a time is admitted). Attempts being checked count
 * towards `max`, so parallel guesses on several instances gain nothing. Rows past their window and lockout are swept
 * with the provider's expired models.
 */
export interface FailureCounts {
  /**
   * Counts an attempt under `key` as being checked, or refuses it: while the key is locked out, or while as many are
   * being checked as failures are left (one after a lockout).
   */
  take(key: string, limit: Limit): Awaitable<Counted>;
  /** An attempt {@link take}n that failed: counted as a failure, the key locked out at `max` (doubling beyond). */
  fail(key: string, windowStart: number, limit: Limit): Awaitable<void>;
  /** A failure checked already (a cheap check): counted, unless the key is locked out; then refused with the wait. */
  failNow(key: string, limit: Limit): Awaitable<Counted>;
  /** The key's failures in its current window and how long its lockout still lasts (0 when it is not locked out). */
  peek(key: string, now: number): Awaitable<{ attempts: number; retryAfterMs: number }>;
  /** Takes back an attempt {@link take}n that did not fail (or was not checked), if its window is still the key's. */
  uncount(key: string, windowStart: number): Awaitable<void>;
  /** Forgets the key's attempts and lockout (its owner just proved themselves). */
  clear(key: string): Awaitable<void>;
}

/**
 * The stored key: a hash, so that what a throttle keys on (a source address and a username, which people sometimes
 * type their password into) is never stored, and any text fits a column.
 */
export const storedKey = (key: string): string => createHash('sha256').update(key).digest('base64url');

/** The parameters of the statements below, named as each database writes them (@name, $n::type). */
export interface Params {
  readonly key: string;
  readonly now: string;
  readonly window: string;
  readonly max: string;
  readonly lockout: string;
  readonly maxLockout: string;
}

const greater = (a: string, b: string): string => `CASE WHEN ${a} > ${b} THEN ${a} ELSE ${b} END`;

/**
 * When the lockout after `failures` failures ends (`locked` when there are fewer than max): the lockout doubled once
 * per failure beyond max, by a shift (neither database has a portable power function), capped.
 */
function lockedUntil(p: Params, failures: string, locked: string): string {
  const doublings = `(CASE WHEN ${failures} - ${p.max} > 30 THEN 30 ELSE ${failures} - ${p.max} END)`;
  const lockout = `(${p.lockout} << ${doublings})`;
  return `CASE WHEN ${failures} >= ${p.max} THEN ${p.now} + (CASE WHEN ${lockout} > ${p.maxLockout} THEN ${p.maxLockout} ELSE ${lockout} END) ELSE ${locked} END`;
}

/**
 * A row whose failures are forgotten: a window after the last failure or after the lockout's end, whichever is later
 * (at the cap, a lockout as long as the window would otherwise forget the doubling the moment it ends).
 */
const expired = (p: Params): string => `failure_counts.expires_at <= ${p.now}`;

/**
 * Counts an attempt being checked: a new row, a row past its window started again, or a row not locked out with a
 * slot free counted one more; otherwise no row is returned.
 */
export function takeStatement(p: Params): string {
  const allowed = `CASE WHEN failure_counts.attempts < ${p.max} THEN ${p.max} - failure_counts.attempts ELSE 1 END`;
  return `INSERT INTO failure_counts (key, window_start, attempts, pending, locked_until, expires_at)
    VALUES (${p.key}, ${p.now}, 0, 1, 0, ${p.now} + ${p.window})
    ON CONFLICT (key) DO UPDATE SET
      window_start = CASE WHEN ${expired(p)} THEN ${p.now} ELSE failure_counts.window_start END,
      attempts = CASE WHEN ${expired(p)} THEN 0 ELSE failure_counts.attempts END,
      pending = CASE WHEN ${expired(p)} THEN 1 ELSE failure_counts.pending + 1 END,
      locked_until = CASE WHEN ${expired(p)} THEN 0 ELSE failure_counts.locked_until END,
      expires_at = CASE WHEN ${expired(p)} THEN ${p.now} + ${p.window} ELSE failure_counts.expires_at END
    WHERE ${expired(p)} OR (failure_counts.locked_until <= ${p.now} AND failure_counts.pending < ${allowed})
    RETURNING window_start`;
}

/** An attempt taken in the window `$windowStart` failed: one less pending, one more failure, the lockout it earns. */
export function failStatement(p: Params & { readonly windowStart: string }): string {
  const failures = 'failure_counts.attempts + 1';
  const locked = lockedUntil(p, failures, 'failure_counts.locked_until');
  return `UPDATE failure_counts SET
      attempts = ${failures},
      pending = CASE WHEN failure_counts.pending > 0 THEN failure_counts.pending - 1 ELSE 0 END,
      locked_until = ${locked},
      expires_at = ${greater(`${p.now} + ${p.window}`, `(${locked}) + ${p.window}`)}
    WHERE key = ${p.key} AND window_start = ${p.windowStart}`;
}

/** A failure checked already: counted (and its lockout set) unless the key is locked out, when no row is returned. */
export function failNowStatement(p: Params): string {
  const failures = `CASE WHEN ${expired(p)} THEN 1 ELSE failure_counts.attempts + 1 END`;
  const locked = lockedUntil(p, failures, '0');
  const first = lockedUntil(p, '1', '0');
  return `INSERT INTO failure_counts (key, window_start, attempts, pending, locked_until, expires_at)
    VALUES (${p.key}, ${p.now}, 1, 0, ${first}, ${greater(`${p.now} + ${p.window}`, `(${first}) + ${p.window}`)})
    ON CONFLICT (key) DO UPDATE SET
      window_start = CASE WHEN ${expired(p)} THEN ${p.now} ELSE failure_counts.window_start END,
      attempts = ${failures},
      pending = CASE WHEN ${expired(p)} THEN 0 ELSE failure_counts.pending END,
      locked_until = ${locked},
      expires_at = ${greater(`${p.now} + ${p.window}`, `(${locked}) + ${p.window}`)}
    WHERE ${expired(p)} OR failure_counts.locked_until <= ${p.now}
    RETURNING window_start`;
}

export const UNCOUNT =
  'UPDATE failure_counts SET pending = pending - 1 WHERE key = $1 AND window_start = $2 AND pending > 0';
export const CLEAR = 'DELETE FROM failure_counts WHERE key = $1';
export const LOCKED_UNTIL = 'SELECT locked_until FROM failure_counts WHERE key = $1';
export const PEEK = 'SELECT attempts, locked_until, expires_at FROM failure_counts WHERE key = $1';

/** What a refused {@link FailureCounts.take} waits: the lockout's end, or a second for a slot (checks are quick). */
export function refusedFor(lockedUntilAt: number | undefined, now: number): { retryAfterMs: number } {
  return { retryAfterMs: lockedUntilAt !== undefined && lockedUntilAt > now ? lockedUntilAt - now : 1000 };
}

/** What {@link FailureCounts.peek} answers for a row read (numbers), or for none. */
export function peeked(
  row: { attempts: number; locked_until: number; expires_at: number } | undefined,
  now: number,
): { attempts: number; retryAfterMs: number } {
  return row === undefined || row.expires_at <= now
    ? { attempts: 0, retryAfterMs: 0 }
    : { attempts: row.attempts, retryAfterMs: Math.max(0, row.locked_until - now) };
}
export const SWEEP = 'DELETE FROM failure_counts WHERE expires_at <= $1';

/** The counts in the SQLite database: every worker on one data dir shares them (WAL, busy timeout). */
export function sqliteFailureCounts(db: Db): FailureCounts {
  const named: Params = {
    key: '@key',
    now: '@now',
    window: '@window',
    max: '@max',
    lockout: '@lockout',
    maxLockout: '@maxLockout',
  };
  type Bound = { key: string; now: number; window: number; max: number; lockout: number; maxLockout: number };
  const take = db.prepare<[Bound], { window_start: number }>(takeStatement(named));
  const fail = db.prepare<[Bound & { windowStart: number }]>(failStatement({ ...named, windowStart: '@windowStart' }));
  const failNow = db.prepare<[Bound], { window_start: number }>(failNowStatement(named));
  const locked = db.prepare<[string], { locked_until: number }>(LOCKED_UNTIL.replace('$1', '?'));
  const peek = db.prepare<[string], { attempts: number; locked_until: number; expires_at: number }>(
    PEEK.replace('$1', '?'),
  );
  const uncount = db.prepare<[string, number]>(UNCOUNT.replace('$1', '?').replace('$2', '?'));
  const clear = db.prepare<[string]>(CLEAR.replace('$1', '?'));
  const bind = (key: string, l: Limit): Bound => ({
    key: storedKey(key),
    now: l.now,
    window: l.windowMs,
    max: l.max,
    lockout: l.lockoutMs,
    maxLockout: l.maxLockoutMs,
  });
  return {
    take(key, limit) {
      const bound = bind(key, limit);
      const row = take.get(bound);
      if (row !== undefined) return { windowStart: row.window_start };
      return refusedFor(locked.get(bound.key)?.locked_until, limit.now);
    },
    fail(key, windowStart, limit) {
      fail.run({ ...bind(key, limit), windowStart });
    },
    failNow(key, limit) {
      const bound = bind(key, limit);
      const row = failNow.get(bound);
      if (row !== undefined) return { windowStart: row.window_start };
      return refusedFor(locked.get(bound.key)?.locked_until, limit.now);
    },
    peek: (key, now) => peeked(peek.get(storedKey(key)), now),
    uncount(key, windowStart) {
      uncount.run(storedKey(key), windowStart);
    },
    clear(key) {
      clear.run(storedKey(key));
    },
  };
}
