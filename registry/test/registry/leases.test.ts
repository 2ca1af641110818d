import { describe, expect, it } from 'vitest';
import type { LeaseRecord } from '../../src/registry/events.ts';
import { Registry } from '../../src/registry/registry.ts';
import type { RegistryOptions } from '../../src/registry/registry.ts';
import { instance, TestClock } from '../helpers.ts';

function setup(options: RegistryOptions = {}) {
  const clock = new TestClock();
  const registry = new Registry({ clock: clock.read, ...options });
  return { clock, registry };
}

const NO_SELF_PRESERVATION = { selfPreservation: { enabled: false } } as const;

describe('lease expiry', () => {
  it('expires at exactly the instance’s own durationInSecs, not twice it', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    registry.register(instance('A', 'a1', { durationInSecs: 10 }));
    clock.advance(9_999);
    expect(registry.evictExpired().evicted).toEqual([]);
    clock.advance(1);
    expect(registry.evictExpired().evicted).toEqual([{ at: clock.now, app: 'A', id: 'a1' }]);
    expect(registry.size).toBe(0);
  });

  it('a renewal pushes expiry to the renewal time plus the duration', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    registry.register(instance('A', 'a1', { durationInSecs: 10 }));
    clock.advance(8_000);
    registry.renew('A', 'a1');
    clock.advance(9_999);
    expect(registry.evictExpired().evicted).toHaveLength(0);
    clock.advance(1);
    expect(registry.evictExpired().evicted).toHaveLength(1);
  });

  it('each instance keeps its own duration', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    registry.register(instance('A', 'short', { durationInSecs: 5 }));
    registry.register(instance('A', 'long', { durationInSecs: 90 }));
    clock.advance(5_000);
    expect(registry.evictExpired().evicted.map((e) => e.id)).toEqual(['short']);
    expect(registry.instance('A', 'long')).toBeDefined();
  });

  it('eviction emits DELETED with cause eviction and lists it among recent cancellations', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    const causes: string[] = [];
    registry.onChange((c) => causes.push(`${c.action}:${c.cause}`));
    registry.register(instance('A', 'a1', { durationInSecs: 1 }));
    clock.advance(1_000);
    registry.evictExpired();
    expect(causes).toEqual(['ADDED:register', 'DELETED:eviction']);
    expect(registry.recentCancellations()[0]).toMatchObject({ id: 'a1', reason: 'eviction' });
  });
});

describe('eviction cap', () => {
  it('evicts at most size - floor(size × 0.85) per sweep while self-preservation is enabled, oldest expiry first', () => {
    const { registry, clock } = setup({ selfPreservation: { enabled: true, minInstances: 1000 } });
    for (let i = 0; i < 20; i++) {
      registry.register(instance('A', `a${String(i).padStart(2, '0')}`, { durationInSecs: 10 }));
      clock.advance(1);
    }
    clock.advance(10_000);
    const first = registry.evictExpired();
    expect(first.expired).toBe(20);
    expect(first.limit).toBe(3);
    expect(first.evicted.map((e) => e.id)).toEqual(['a00', 'a01', 'a02']);
    // 17 left: 17 - floor(14.45) = 3 again.
    expect(registry.evictExpired().evicted).toHaveLength(3);
    expect(registry.size).toBe(14);
  });

  it('with self-preservation off, evicts every expired lease in one sweep', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    for (let i = 0; i < 20; i++) registry.register(instance('A', `a${i}`, { durationInSecs: 10 }));
    clock.advance(10_000);
    expect(registry.evictExpired().evicted).toHaveLength(20);
  });

  it('a single instance can always be evicted (1 - floor(0.85) = 1)', () => {
    const { registry, clock } = setup();
    registry.register(instance('A', 'a1', { durationInSecs: 10 }));
    clock.advance(10_000);
    expect(registry.evictExpired().evicted).toHaveLength(1);
  });
});

describe('self-preservation in the registry', () => {
  /** Ten instances that heartbeat every 30 s; `alive` of them keep doing so. */
  function landscape() {
    const { registry, clock } = setup({ selfPreservation: { enabled: true, minInstances: 7, renewalPercent: 0.85 } });
    const ids = Array.from({ length: 10 }, (_, i) => `i${i}`);
    for (const id of ids) registry.register(instance('A', id, { durationInSecs: 90, renewalIntervalInSecs: 30 }));
    const heartbeat = (alive: readonly string[], periods: number): void => {
      for (let p = 0; p < periods; p++) {
        clock.advance(30_000);
        for (const id of alive) registry.renew('A', id);
      }
    };
    return { registry, clock, ids, heartbeat };
  }

  it('does not engage while instances are not yet established for a minute', () => {
    const { registry } = landscape();
    expect(registry.selfPreservation()).toMatchObject({ engaged: false, establishedInstances: 0 });
  });

  it('stays off while renewals meet 85% of what the instances promise', () => {
    const { registry, ids, heartbeat } = landscape();
    heartbeat(ids, 4);
    const state = registry.selfPreservation();
    expect(state).toMatchObject({ engaged: false, establishedInstances: 10, expectedRenewalsPerMinute: 20 });
    expect(state.threshold).toBe(17);
    expect(state.renewsLastMinute).toBeGreaterThanOrEqual(17);
  });

  it('engages when renewals fall below the threshold, keeps expired leases, and disengages when they recover', () => {
    const { registry, ids, heartbeat } = landscape();
    heartbeat(ids, 4);
    // Four instances go quiet at once: 12 renewals a minute against a threshold of 17.
    const alive = ids.slice(0, 6);
    heartbeat(alive, 4);
    const engaged = registry.evictExpired();
    expect(engaged.selfPreservation.engaged).toBe(true);
    expect(engaged.expired).toBe(4);
    expect(engaged.evicted).toEqual([]);
    expect(registry.size).toBe(10);
    expect(registry.status().leaseExpirationEnabled).toBe(false);

    // The quiet ones come back (a network blip): renewals recover and eviction resumes.
    heartbeat(ids, 2);
    expect(registry.selfPreservation().engaged).toBe(false);
    expect(registry.status().leaseExpirationEnabled).toBe(true);
  });

  it('losing a single instance out of seven never engages it', () => {
    const { registry, clock } = setup({ selfPreservation: { enabled: true, minInstances: 7 } });
    const ids = Array.from({ length: 7 }, (_, i) => `i${i}`);
    for (const id of ids) registry.register(instance('A', id));
    for (let p = 0; p < 6; p++) {
      clock.advance(30_000);
      for (const id of ids.slice(0, p < 2 ? 7 : 6)) registry.renew('A', id);
    }
    const report = registry.evictExpired();
    expect(report.selfPreservation.engaged).toBe(false);
    expect(report.evicted.map((e) => e.id)).toEqual(['i6']);
  });
});

describe('restore', () => {
  function record(id: string, lastRenewal: number, durationInSecs = 30): LeaseRecord {
    return {
      instance: instance('A', id, { durationInSecs }),
      overriddenStatus: 'OUT_OF_SERVICE',
      registrationTimestamp: lastRenewal - 1000,
      lastRenewalTimestamp: lastRenewal,
      serviceUpTimestamp: lastRenewal - 1000,
      actionType: 'ADDED',
    };
  }

  it('serves restored leases with their override and timestamps, and keeps the version', () => {
    const { registry, clock } = setup();
    expect(registry.restore([record('a1', clock.now - 3_600_000)], { version: 41 })).toBe(1);
    expect(registry.version).toBe(41);
    expect(registry.instance('A', 'a1')).toMatchObject({
      status: 'OUT_OF_SERVICE',
      leaseInfo: { lastRenewalTimestamp: clock.now - 3_600_000 },
    });
  });

  it('gives a restored lease its own duration from the restart to renew, then evicts it', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    registry.restore([record('a1', clock.now - 3_600_000, 30)]);
    clock.advance(29_999);
    expect(registry.evictExpired().evicted).toHaveLength(0);
    clock.advance(1);
    expect(registry.evictExpired().evicted).toHaveLength(1);
  });

  it('takes a configured grace instead of the duration', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    registry.restore([record('a1', clock.now - 3_600_000, 30)], { graceMs: 5_000 });
    clock.advance(5_000);
    expect(registry.evictExpired().evicted).toHaveLength(1);
  });

  it('a restored lease that renews in its grace stays', () => {
    const { registry, clock } = setup(NO_SELF_PRESERVATION);
    registry.restore([record('a1', clock.now - 3_600_000, 30)]);
    clock.advance(20_000);
    expect(registry.renew('A', 'a1').outcome).toBe('renewed');
    clock.advance(20_000);
    expect(registry.evictExpired().evicted).toHaveLength(0);
  });

  it('restored instances that never renew do not count for self-preservation, so they are evicted', () => {
    const { registry, clock } = setup({ selfPreservation: { enabled: true, minInstances: 7 } });
    registry.restore(Array.from({ length: 10 }, (_, i) => record(`a${i}`, clock.now - 1000, 30)));
    clock.advance(120_000);
    expect(registry.selfPreservation()).toMatchObject({ engaged: false, establishedInstances: 0 });
    expect(registry.evictExpired().evicted.length).toBeGreaterThan(0);
  });
});
