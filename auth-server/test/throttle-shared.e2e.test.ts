// The failure throttle's lockouts as the shared store (SQLite's data dir, a PostgreSQL database) holds them across
// instances: 30 s at the 10th failure, doubling with each failure after it up to the cap, and a caller that waits
// Retry-After is admitted.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openAuthStore, type AuthStore } from '../src/data-dir.ts';
import { FailureThrottle } from '../src/oidc/throttle.ts';
import type { FailureCounts } from '../src/store/failure-counts.ts';
import { postgresForThisFile, SHARED_KEY } from './postgres/helpers.ts';

const KEY = FailureThrottle.key('lockt', '127.0.0.0/8');

const { dir, pg } = postgresForThisFile();
let stores = 0;

/** A fresh store per test: a new SQLite data dir, or a new PostgreSQL database. */
const backends: [string, () => Promise<AuthStore>][] = [
  ['SQLite', () => openAuthStore({ dataDir: `${dir.path}/sqlite-${++stores}`, keyEncryptionKey: SHARED_KEY })],
  [
    'PostgreSQL',
    async () =>
      openAuthStore({
        dataDir: dir.path,
        databaseUrl: await pg().createDatabase(`lockouts_${++stores}`),
        keyEncryptionKey: SHARED_KEY,
      }),
  ],
];

describe.each(backends)('the failure counts shared on %s', (_name, open) => {
  let store: AuthStore;
  let counts: FailureCounts;
  let now: number;
  /** An instance of the auth server: its own memory, the store shared with the others. */
  const instance = (options: { lockoutMs?: number; maxLockoutMs?: number; successClears?: boolean } = {}) =>
    new FailureThrottle({ ...options, shared: { counts, name: 'client-secret' }, now: () => now });
  const verify = (t: FailureThrottle, right: boolean) => t.verify(KEY, () => right);
  /** Until the store holds `failures` failures for the key (failed() reports to it without being awaited). */
  const landed = async (failures: number): Promise<void> => {
    const key = `client-secret\n${KEY}`;
    while ((await counts.peek(key, now)).attempts < failures) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  beforeEach(async () => {
    store = await open();
    counts = store.failureCounts;
    now = 1_000_000;
  });
  afterEach(() => store.close());

  it('locks out for 30 s at the 10th failure, and the right secret is admitted once that has passed', async () => {
    const a = instance();
    for (let i = 0; i < 10; i++) expect(await verify(a, false)).toEqual({ refused: false, ok: false });
    expect(await verify(a, true)).toEqual({ refused: true, retryAfterSec: 30 });
    // Another instance knows the lockout from the store alone, and announces the same wait.
    const b = instance();
    expect(await verify(b, true)).toEqual({ refused: true, retryAfterSec: 30 });
    // Asking while locked out does not lengthen it.
    now += 29_000;
    expect(await verify(b, false)).toEqual({ refused: true, retryAfterSec: 1 });
    now += 1_000;
    expect(await verify(b, true)).toEqual({ refused: false, ok: true });
    expect(await verify(a, true)).toEqual({ refused: false, ok: true });
  });

  it("announces the store's lockout when this instance refuses on a shorter one of its own", async () => {
    const [a, b] = [instance(), instance()];
    for (let i = 0; i < 10; i++) await verify(a, false);
    now += 30_000;
    // The 11th failure, on A once the first lockout has passed, is counted and doubles the store's lockout to 60 s.
    expect(await verify(a, false)).toEqual({ refused: false, ok: false });
    // B counts ten failures of its own meanwhile (the store refuses each as locked out, without counting it), so B
    // locks the key itself, for its own first 30 s.
    for (let i = 0; i < 10; i++) expect(await verify(b, false)).toEqual({ refused: true, retryAfterSec: 60 });
    // B refuses on its own lockout, but says when the store's ends: the right secret is admitted exactly then.
    expect(await verify(b, true)).toEqual({ refused: true, retryAfterSec: 60 });
    expect(await b.admit(KEY)).toEqual({ refused: true, retryAfterSec: 60 });
    now += 59_000;
    expect(await verify(b, true)).toEqual({ refused: true, retryAfterSec: 1 });
    now += 1_000;
    expect(await verify(b, true)).toEqual({ refused: false, ok: true });
  });

  it('doubles the lockout with each failure after it, up to 15 minutes, on every instance', async () => {
    const instances = [instance(), instance()];
    for (let i = 0; i < 10; i++) await verify(instances[i % 2] as FailureThrottle, false);
    const waits: number[] = [];
    // Each further failure is made on an instance that did not see the last one: the store's rule alone decides.
    for (let i = 0; i < 8; i++) {
      const fresh = instance();
      const refusal = await verify(fresh, true);
      if (!refusal.refused) throw new Error('admitted while locked out');
      waits.push(refusal.retryAfterSec);
      now += refusal.retryAfterSec * 1000;
      expect(await verify(fresh, false)).toEqual({ refused: false, ok: false });
    }
    expect(waits).toEqual([30, 60, 120, 240, 480, 900, 900, 900]);
    const last = await verify(instance(), true);
    expect(last).toEqual({ refused: true, retryAfterSec: 900 });
    now += 900_000;
    expect(await verify(instance(), true)).toEqual({ refused: false, ok: true });
    // The owner proved themselves: the count starts again.
    for (let i = 0; i < 9; i++) await verify(instance(), false);
    expect(await verify(instance(), true)).toEqual({ refused: false, ok: true });
  });

  it('holds password attempts (checked slowly) to the same rule: 30 s, then 60 s after one more failure', async () => {
    const a = instance({ successClears: false });
    for (let i = 0; i < 10; i++) {
      const attempt = await a.admit(KEY);
      if (attempt.refused) throw new Error('refused below the limit');
      attempt.failed();
    }
    // The outcome reaches the store asynchronously (best effort): wait until it has landed.
    await landed(10);
    const b = instance({ successClears: false });
    expect(await b.admit(KEY)).toEqual({ refused: true, retryAfterSec: 30 });
    now += 30_000;
    const probe = await b.admit(KEY);
    if (probe.refused) throw new Error('refused after the lockout');
    // One at a time after a lockout, across instances too.
    expect(await instance().admit(KEY)).toEqual({ refused: true, retryAfterSec: 1 });
    probe.failed();
    await landed(11);
    expect(await instance().admit(KEY)).toEqual({ refused: true, retryAfterSec: 60 });
    now += 60_000;
    const right = await instance().admit(KEY);
    expect(right.refused).toBe(false);
  });

  it('takes the first lockout and the cap from the throttle, so a short base keeps the doubling rule', async () => {
    const a = instance({ lockoutMs: 1000, maxLockoutMs: 3000 });
    for (let i = 0; i < 10; i++) await verify(a, false);
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      const refusal = await verify(instance({ lockoutMs: 1000, maxLockoutMs: 3000 }), true);
      if (!refusal.refused) throw new Error('admitted while locked out');
      waits.push(refusal.retryAfterSec);
      now += refusal.retryAfterSec * 1000;
      await verify(instance({ lockoutMs: 1000, maxLockoutMs: 3000 }), false);
    }
    expect(waits).toEqual([1, 2, 3, 3]);
  });
});
