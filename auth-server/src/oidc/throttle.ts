// A failure throttle: lockouts after wrong credentials, per subject and source address, or per source alone.
import type { FailureCounts, Limit } from '../store/failure-counts.ts';

export interface ThrottleOptions {
  /** Failures (counting attempts still being checked) allowed within the window before the key is locked out. */
  readonly maxFailures?: number;
  /** The first lockout; each further failure after it doubles the next one. */
  readonly lockoutMs?: number;
  readonly maxLockoutMs?: number;
  /**
   * Failures are forgotten this long after the last one or after the lockout's end, whichever is later (unless an
   * attempt is in flight): a lockout at the cap, as long as the window, would otherwise end with no doubling left.
   */
  readonly windowMs?: number;
  /** Keys tracked at most; the least recently used goes first (bounded memory under a spray of names). */
  readonly maxEntries?: number;
  /**
   * Whether a success clears the key's failures (the default): right for a key of one credential, whose owner just
   * proved themselves. A key covering many (a source across usernames or user codes) sets false, or one success of
   * the guesser's own (its own account, its own device) would wipe out its count between guesses.
   */
  readonly successClears?: boolean;
  /**
   * The store's counts, and this throttle's name in them: {@link FailureThrottle.admit} then counts every attempt
   * there too, so the limit holds across instances and workers sharing the store, not per process.
   */
  readonly shared?: { readonly counts: FailureCounts; readonly name: string } | undefined;
  readonly now?: () => number;
}

/** One admitted attempt: report its outcome exactly once (later calls are ignored). */
export interface Admitted {
  readonly refused: false;
  failed(): void;
  succeeded(): void;
  /** Not checked after all (another throttle refused it): neither outcome, its slot freed. */
  abandoned(): void;
}

/** An attempt refused without looking at the credential. */
export interface Refused {
  readonly refused: true;
  /** Whole seconds until an attempt under this key may be admitted again (at least 1). */
  readonly retryAfterSec: number;
}

/** Entries looked at for one that may go (see #evict): bounds the work of one admission. */
const EVICTION_SCAN = 64;

interface Entry {
  failures: number;
  inFlight: number;
  lockedUntil: number;
  last: number;
}

/**
 * Limits guessing per key (a client or username AND a source address, {@link FailureThrottle.key}; or a source
 * alone, for guesses spread over many names or codes): at most
 * `maxFailures` wrong credentials within the window, then the key is locked out and every attempt is refused before
 * its credential is looked at, for `lockoutMs`, doubling with each failure after that (capped). Once a lockout has
 * passed, one attempt at a time is admitted, and a wrong one locks again for twice as long.
 *
 * Admission is decided and recorded in one synchronous step ({@link begin}), before the caller's asynchronous check
 * (a password hash): attempts still being checked count as failures, so sending guesses in parallel gains nothing
 * over sending them one by one. Keyed by credential alone, anyone could lock the legitimate client out by failing on
 * purpose; keyed by source too, a correct credential from another address is never affected.
 */
export class FailureThrottle {
  /** The key of attempts for `subject` (a client id, a username) from `source` (an {@link addressKey}). */
  static key(subject: string, source: string): string {
    // A newline cannot occur in a client id, a username or an address, so no two pairs share a key.
    return `${source}\n${subject}`;
  }

  readonly #entries = new Map<string, Entry>();
  readonly #maxFailures: number;
  readonly #lockout: number;
  readonly #maxLockout: number;
  readonly #window: number;
  readonly #maxEntries: number;
  readonly #successClears: boolean;
  readonly #shared: ThrottleOptions['shared'];
  readonly #now: () => number;

  constructor(options: ThrottleOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#lockout = options.lockoutMs ?? 30_000;
    this.#maxLockout = options.maxLockoutMs ?? 15 * 60_000;
    this.#window = options.windowMs ?? 15 * 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#successClears = options.successClears ?? true;
    this.#shared = options.shared;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Admits an attempt under `key` (counting it as in flight until its outcome is reported) or refuses it. Call this
   * before checking the credential, and check the credential only when admitted.
   */
  begin(key: string): Admitted | Refused {
    const now = this.#now();
    let entry = this.#entries.get(key);
    if (entry !== undefined && entry.inFlight === 0 && now - Math.max(entry.last, entry.lockedUntil) > this.#window) {
      entry = undefined;
    }
    if (entry !== undefined && now < entry.lockedUntil) {
      return { refused: true, retryAfterSec: Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000)) };
    }
    entry ??= { failures: 0, inFlight: 0, lockedUntil: 0, last: now };
    // Below the limit, as many attempts at once as failures are left; after a lockout, one at a time.
    const allowed = entry.failures < this.#maxFailures ? this.#maxFailures - entry.failures : 1;
    if (entry.inFlight >= allowed) {
      // Their outcomes are not known yet; the earliest a slot frees up is when they finish.
      return { refused: true, retryAfterSec: 1 };
    }
    entry.inFlight++;
    this.#touch(key, entry);
    return this.#admitted(entry, key);
  }

  /**
   * {@link begin} here, then the same attempt counted in the shared store (when the throttle has one): admitted only
   * when both admit, so N instances together allow `maxFailures` within the window, not N times as many. The local
   * check refuses first, before the credential is looked at, while this process holds a lockout; the store then only
   * says how long (see {@link #refusedAlone}).
   */
  async admit(key: string): Promise<Admitted | Refused> {
    const local = this.begin(key);
    if (local.refused) return this.#refusedAlone(local, key);
    const shared = this.#shared;
    if (shared === undefined) return local;
    const sharedKey = sharedKeyOf(shared.name, key);
    let counted;
    try {
      counted = await shared.counts.take(sharedKey, this.#limit());
    } catch (err) {
      local.abandoned();
      throw err;
    }
    if ('retryAfterMs' in counted) {
      local.abandoned();
      return refusedFor(counted.retryAfterMs);
    }
    // Reporting an outcome is best effort: a count left pending only errs on the side of refusing, until the window.
    const settle = (work: () => unknown): void => {
      void Promise.resolve()
        .then(work)
        .catch(() => undefined);
    };
    const { windowStart } = counted;
    let done = false;
    const once = (fn: () => void) => (): void => {
      if (done) return;
      done = true;
      fn();
    };
    return {
      refused: false,
      failed: once(() => {
        local.failed();
        settle(() => shared.counts.fail(sharedKey, windowStart, this.#limit()));
      }),
      succeeded: once(() => {
        local.succeeded();
        settle(() =>
          this.#successClears ? shared.counts.clear(sharedKey) : shared.counts.uncount(sharedKey, windowStart),
        );
      }),
      abandoned: once(() => {
        local.abandoned();
        settle(() => shared.counts.uncount(sharedKey, windowStart));
      }),
    };
  }

  /**
   * For a credential that is cheap to check (a keyed hash of a client secret): checked at once, its outcome recorded
   * here in the same synchronous step (so that concurrent right ones never queue behind each other), and then told
   * only as the shared store allows: a wrong one is counted there atomically (locking the key out at `maxFailures`,
   * the lockout doubling with each failure beyond) and answered as refused while the key is locked out; a right one
   * is refused while the key is locked out, and admitted once the lockout has ended. A successful attempt costs one
   * read, no write, unless failures were counted.
   */
  async verify(key: string, check: () => boolean): Promise<{ readonly refused: false; ok: boolean } | Refused> {
    const local = this.begin(key);
    if (local.refused) return this.#refusedAlone(local, key);
    let ok = false;
    try {
      ok = check();
    } finally {
      if (ok) local.succeeded();
      else local.failed();
    }
    const shared = this.#shared;
    if (shared === undefined) return { refused: false, ok };
    const sharedKey = sharedKeyOf(shared.name, key);
    const limit = this.#limit();
    if (!ok) {
      const counted = await shared.counts.failNow(sharedKey, limit);
      return 'retryAfterMs' in counted ? refusedFor(counted.retryAfterMs) : { refused: false, ok };
    }
    const { attempts, retryAfterMs } = await shared.counts.peek(sharedKey, limit.now);
    if (retryAfterMs > 0) return refusedFor(retryAfterMs);
    if (attempts > 0 && this.#successClears) {
      void Promise.resolve()
        .then(() => shared.counts.clear(sharedKey))
        .catch(() => undefined);
    }
    return { refused: false, ok };
  }

  /**
   * A refusal this process decided from its own counts, told the later of its own wait and the shared store's:
   * failures made on other instances (or workers) may have doubled the lockout past what this one saw, and Retry-After
   * promises the end (a right credential sent then is admitted). Read only on a refusal; with the store unreachable
   * the local wait stands, and the attempt is refused either way.
   */
  async #refusedAlone(local: Refused, key: string): Promise<Refused> {
    const shared = this.#shared;
    if (shared === undefined) return local;
    try {
      const { retryAfterMs } = await shared.counts.peek(sharedKeyOf(shared.name, key), this.#now());
      return retryAfterMs > local.retryAfterSec * 1000 ? refusedFor(retryAfterMs) : local;
    } catch {
      return local;
    }
  }

  /** This throttle's rule, for the shared store to apply the same way. */
  #limit(): Limit {
    return {
      max: this.#maxFailures,
      windowMs: this.#window,
      lockoutMs: this.#lockout,
      maxLockoutMs: this.#maxLockout,
      now: this.#now(),
    };
  }

  #admitted(entry: Entry, key: string): Admitted {
    let done = false;
    return {
      refused: false,
      failed: () => {
        if (done) return;
        done = true;
        const now = this.#now();
        entry.inFlight--;
        entry.failures++;
        entry.last = now;
        if (entry.failures >= this.#maxFailures) {
          const doublings = Math.min(entry.failures - this.#maxFailures, 30);
          entry.lockedUntil = now + Math.min(this.#lockout * 2 ** doublings, this.#maxLockout);
        }
      },
      abandoned: () => {
        if (done) return;
        done = true;
        entry.inFlight--;
      },
      succeeded: () => {
        if (done) return;
        done = true;
        entry.inFlight--;
        if (!this.#successClears) return;
        entry.failures = 0;
        entry.lockedUntil = 0;
        if (entry.inFlight === 0 && this.#entries.get(key) === entry) this.#entries.delete(key);
      },
    };
  }

  #touch(key: string, entry: Entry): void {
    this.#entries.delete(key); // re-inserted last: Map order is the eviction order
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries) this.#evict();
  }

  /**
   * Drops the least recently used entry that is neither locked out nor has an attempt in flight, looking at the
   * oldest few only: a guesser spraying fresh names to push its own lockout out of memory would need as many
   * lockouts of its own as there are entries. Only when those are all locked does the oldest go.
   */
  #evict(): void {
    const now = this.#now();
    let looked = 0;
    for (const [key, entry] of this.#entries) {
      if (entry.inFlight === 0 && now >= entry.lockedUntil) {
        this.#entries.delete(key);
        return;
      }
      if (++looked >= EVICTION_SCAN) break;
    }
    const oldest = this.#entries.keys().next();
    if (oldest.done !== true) this.#entries.delete(oldest.value);
  }
}

/**
 * Admits one attempt under several throttles at once (a username's and the source's), or under none: refused by the
 * first that refuses, the admissions before it abandoned. The outcome reported goes to every one of them.
 */
export async function admitAll(...gates: readonly (readonly [FailureThrottle, string])[]): Promise<Admitted | Refused> {
  const admitted: Admitted[] = [];
  for (const [throttle, key] of gates) {
    let attempt: Admitted | Refused;
    try {
      attempt = await throttle.admit(key);
    } catch (err) {
      for (const a of admitted) a.abandoned();
      throw err;
    }
    if (attempt.refused) {
      for (const a of admitted) a.abandoned();
      return attempt;
    }
    admitted.push(attempt);
  }
  return {
    refused: false,
    failed: () => admitted.forEach((a) => a.failed()),
    succeeded: () => admitted.forEach((a) => a.succeeded()),
    abandoned: () => admitted.forEach((a) => a.abandoned()),
  };
}

/** Failed sign-ins one source may make across all usernames (one password sprayed over many) before a lockout. */
export const SIGN_IN_FAILURES_PER_SOURCE = 20;

/** Wrong user codes one source may enter on the device page before a lockout (see provider.ts). */
export const USER_CODE_FAILURES_PER_SOURCE = 10;

/** A refusal for `ms` (whole seconds, rounded up, at least 1: a caller that waits that long is admitted). */
/** A key as the shared store holds it: the throttle's name first, so two throttles' counts never mix. */
const sharedKeyOf = (name: string, key: string): string => `${name}\n${key}`;

function refusedFor(ms: number): Refused {
  return { refused: true, retryAfterSec: Math.max(1, Math.ceil(ms / 1000)) };
}

/** The Retry-After value and the sentence the refusal pages and token errors show. */
export function tooManyAttempts(retryAfterSec: number): string {
  return `too many failed attempts from this address; try again in ${retryAfterSec} s`;
}
