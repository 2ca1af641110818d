// Lockouts after wrong credentials, per source address and presented name, and per source across names.
import { isIP } from 'node:net';
import { addressKey } from './trusted-proxies.ts';

export interface CredentialLimiterOptions {
  /** Wrong credentials one source may present for one name before both are locked out. Default 10. */
  readonly maxFailures?: number;
  /**
   * Wrong credentials one source may present across all names (one password sprayed over many) before it is locked
   * out. Default 20. A success does not clear this count, or a guesser's own valid credential would wipe it.
   */
  readonly maxFailuresPerSource?: number;
  /** The first lockout; each further failure after it doubles the next one. Default 30 s. */
  readonly lockoutMs?: number;
  /** Default 15 min. */
  readonly maxLockoutMs?: number;
  /** Failures are forgotten this long after the last one (unless locked out). Default 15 min. */
  readonly windowMs?: number;
  /** Entries kept at most; the least recently used that is not locked out goes first. Default 10,000. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Entry {
  failures: number;
  lockedUntil: number;
  last: number;
}

/** Entries looked at for one that may go: bounds the work of one failure. */
const EVICTION_SCAN = 64;

/**
 * Limits credential guessing for a server whose credential check is synchronous (a digest comparison): after
 * `maxFailures` wrong credentials for one name from one source (or `maxFailuresPerSource` across names), every
 * attempt from there is refused before the credential is looked at, the right one too, for `lockoutMs`, doubling
 * with each failure after that up to `maxLockoutMs`. The auth server's client-secret throttle behaves the same way.
 * Keyed by source, never by name alone: anyone could otherwise lock the real owner out by failing on purpose, while
 * here a correct credential from another address is never affected. Sources are reduced by {@link throttleSource}
 * (loopback as one, IPv6 per /64), so pass the client address as seen.
 *
 * @example
 * const limiter = new CredentialLimiter();
 * const wait = limiter.retryAfter(source, name); // a number: answer 429 with Retry-After
 * if (wait === undefined) (check(credential) ? limiter.succeeded(source, name) : limiter.failed(source, name));
 */
export class CredentialLimiter {
  readonly #entries = new Map<string, Entry>();
  readonly #maxFailures: number;
  readonly #maxPerSource: number;
  readonly #lockout: number;
  readonly #maxLockout: number;
  readonly #window: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  /** When the last lockout handed out ends. */
  #anyLockedUntil = 0;

  constructor(options: CredentialLimiterOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 10;
    this.#maxPerSource = options.maxFailuresPerSource ?? 20;
    this.#lockout = options.lockoutMs ?? 30_000;
    this.#maxLockout = options.maxLockoutMs ?? 15 * 60_000;
    this.#window = options.windowMs ?? 15 * 60_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Whole seconds (at least 1) until `name` from `source` may be checked again; undefined when it may be now. */
  retryAfter(source: string, name: string): number | undefined {
    source = throttleSource(source);
    const now = this.#now();
    const until = Math.max(
      this.#live(sourceKey(source), now)?.lockedUntil ?? 0,
      this.#live(pairKey(source, name), now)?.lockedUntil ?? 0,
    );
    return until > now ? Math.max(1, Math.ceil((until - now) / 1000)) : undefined;
  }

  /**
   * Whether some source is locked out now: a fast path that cannot tell sources apart (it sees no address) must then
   * leave the request to the checked path, or it would confirm a right guess made while locked out.
   */
  locksAny(): boolean {
    return this.#now() < this.#anyLockedUntil;
  }

  /** A wrong credential for `name` from `source`. */
  failed(source: string, name: string): void {
    source = throttleSource(source);
    const now = this.#now();
    this.#fail(pairKey(source, name), this.#maxFailures, now);
    this.#fail(sourceKey(source), this.#maxPerSource, now);
  }

  /** The right credential for `name` from `source`: its owner proved themselves, so that name's count is cleared. */
  succeeded(source: string, name: string): void {
    source = throttleSource(source);
    this.#entries.delete(pairKey(source, name));
  }

  #live(key: string, now: number): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && now >= entry.lockedUntil && now - entry.last > this.#window) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #fail(key: string, max: number, now: number): void {
    const entry = this.#live(key, now) ?? { failures: 0, lockedUntil: 0, last: now };
    entry.failures++;
    entry.last = now;
    if (entry.failures >= max) {
      const doublings = Math.min(entry.failures - max, 30);
      entry.lockedUntil = now + Math.min(this.#lockout * 2 ** doublings, this.#maxLockout);
      this.#anyLockedUntil = Math.max(this.#anyLockedUntil, entry.lockedUntil);
    }
    this.#entries.delete(key); // re-inserted last: Map order is the eviction order
    this.#entries.set(key, entry);
    if (this.#entries.size > this.#maxEntries) this.#evict(now);
  }

  /**
   * Drops the least recently used entry that is not locked out, looking at the oldest few only: pushing one's own
   * lockout out of memory with fresh names would take as many lockouts as there are entries.
   */
  #evict(now: number): void {
    let looked = 0;
    for (const [key, entry] of this.#entries) {
      if (now >= entry.lockedUntil) {
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
 * The part of a client address one party controls, as the key of a failure throttle: every address in 127.0.0.0/8
 * is this machine (a local process can send from any of them, so rotating through them would give fresh guesses),
 * an IPv4-mapped IPv6 address is its IPv4 address, an IPv6 address its /64 (see addressKey). Anything else (a key
 * already reduced, `unknown`) is returned unchanged, so applying it twice changes nothing.
 *
 * @example throttleSource('::ffff:127.0.0.2') // '127.0.0.0/8'
 */
export function throttleSource(address: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  let v4 = dotted ?? address;
  if (hex !== null) {
    const high = parseInt(hex[1] as string, 16);
    const low = parseInt(hex[2] as string, 16);
    v4 = `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  if (isIP(v4) === 4) return v4.startsWith('127.') ? LOOPBACK_V4 : v4;
  return addressKey(address);
}

const LOOPBACK_V4 = '127.0.0.0/8';

// A newline occurs in no address: a pair's key always has one after the source, a source's key none.
const pairKey = (source: string, name: string): string => `${source}\n${name}`;
const sourceKey = (source: string): string => source;

/**
 * The name a request's credential claims, for {@link CredentialLimiter}: a Basic user (before the first colon),
 * `(token)` for a bearer token or any other scheme's value, undefined when no credential is presented (no guess).
 *
 * @example presentedName(`Basic ${btoa('ops:guess')}`) // 'ops'
 */
export function presentedName(authorization: string | undefined, token?: string): string | undefined {
  if (token !== undefined && token !== '') return '(token)';
  if (authorization === undefined || authorization.trim() === '') return undefined;
  const space = authorization.indexOf(' ');
  if (space !== -1 && authorization.slice(0, space).toLowerCase() === 'basic') {
    const decoded = Buffer.from(authorization.slice(space + 1).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // Capped, so a spray of long names cannot make the limiter's keys large.
    return (colon === -1 ? decoded : decoded.slice(0, colon)).slice(0, 128);
  }
  return '(token)';
}
