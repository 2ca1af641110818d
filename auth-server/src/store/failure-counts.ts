// Failed-credential counts in the shared store (SQLite's data dir, or PostgreSQL): the throttles' decision across
// instances and workers, one atomic increment-and-read per attempt.
import { createHash } from 'node:crypto';
import type { Awaitable, Db } from './db.ts';

/** The window an admitted attempt was counted in (to take it back), or how long until the key may try again. */
export type Counted = { readonly windowStart: number } | { readonly retryAfterMs: number };

/**
 * Attempts per key within a window that begins at the key's first attempt: at most `max` are counted (failures and
 * attempts still being checked alike, so parallel guesses on several instances gain nothing), and the next is refused
 * until the window ends. Rows past their window are swept with the provider's expired models.
 */
export interface FailureCounts {
  /** Counts an attempt under `key`, or refuses it when its window holds `max` already. */
  take(key: string, limit: { max: number; windowMs: number; now: number }): Awaitable<Counted>;
  /** The attempts counted in the key's current window (0 when none, or when it has ended), without counting one. */
  peek(key: string, now: number): Awaitable<{ attempts: number; retryAfterMs: number }>;
  /** Takes back an attempt that did not fail (or was not checked), if its window is still the key's. */
  uncount(key: string, windowStart: number): Awaitable<void>;
  /** Forgets the key's attempts (its owner just proved themselves). */
  clear(key: string): Awaitable<void>;
}

/**
 * The stored key: a hash, so that what a throttle keys on (a source address and a username, which people sometimes
 * type their password into) is never stored, and any text fits a column.
 */
export const storedKey = (key: string): string => createHash('sha256').update(key).digest('base64url');

/**
 * The statement both databases run (named parameters: better-sqlite3's @name here, $n for PostgreSQL): a new row, a
 * row past its window started again, or a row below `max` counted one more; a row at `max` is left as it is and no
 * row is returned.
 */
export function takeStatement(p: { key: string; now: string; window: string; max: string }): string {
  const expired = `failure_counts.expires_at <= ${p.now}`;
  return `INSERT INTO failure_counts (key, window_start, attempts, expires_at)
    VALUES (${p.key}, ${p.now}, 1, ${p.now} + ${p.window})
    ON CONFLICT (key) DO UPDATE SET
      window_start = CASE WHEN ${expired} THEN ${p.now} ELSE failure_counts.window_start END,
      attempts = CASE WHEN ${expired} THEN 1 ELSE failure_counts.attempts + 1 END,
      expires_at = CASE WHEN ${expired} THEN ${p.now} + ${p.window} ELSE failure_counts.expires_at END
    WHERE ${expired} OR failure_counts.attempts < ${p.max}
    RETURNING window_start`;
}

export const UNCOUNT =
  'UPDATE failure_counts SET attempts = attempts - 1 WHERE key = $1 AND window_start = $2 AND attempts > 0';
export const CLEAR = 'DELETE FROM failure_counts WHERE key = $1';
export const EXPIRES_AT = 'SELECT expires_at FROM failure_counts WHERE key = $1';
export const PEEK = 'SELECT attempts, expires_at FROM failure_counts WHERE key = $1';

/** What {@link FailureCounts.peek} answers for a row read (expires_at as a number), or for none. */
export function peeked(
  row: { attempts: number; expires_at: number } | undefined,
  now: number,
): { attempts: number; retryAfterMs: number } {
  return row === undefined || row.expires_at <= now
    ? { attempts: 0, retryAfterMs: 0 }
    : { attempts: row.attempts, retryAfterMs: row.expires_at - now };
}
export const SWEEP = 'DELETE FROM failure_counts WHERE expires_at <= $1';

/** The counts in the SQLite database: every worker on one data dir shares them (WAL, busy timeout). */
export function sqliteFailureCounts(db: Db): FailureCounts {
  const take = db.prepare<[{ key: string; now: number; window: number; max: number }], { window_start: number }>(
    takeStatement({ key: '@key', now: '@now', window: '@window', max: '@max' }),
  );
  const expiresAt = db.prepare<[string], { expires_at: number }>(EXPIRES_AT.replace('$1', '?'));
  const peek = db.prepare<[string], { attempts: number; expires_at: number }>(PEEK.replace('$1', '?'));
  const uncount = db.prepare<[string, number]>(UNCOUNT.replace('$1', '?').replace('$2', '?'));
  const clear = db.prepare<[string]>(CLEAR.replace('$1', '?'));
  return {
    take(key, { max, windowMs, now }) {
      const stored = storedKey(key);
      const row = take.get({ key: stored, now, window: windowMs, max });
      if (row !== undefined) return { windowStart: row.window_start };
      return { retryAfterMs: (expiresAt.get(stored)?.expires_at ?? now) - now };
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
