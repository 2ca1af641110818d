import { describe, expect, it } from 'vitest';
import { appsHashCode, INSTANCE_STATUSES } from '../../src/eureka/index.ts';
import type { InstanceStatus, LeaseRecord } from '../../src/index.ts';
import { Registry } from '../../src/registry/registry.ts';
import { StatusCounts } from '../../src/registry/status-counts.ts';
import { instance, TestClock } from '../helpers.ts';

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

describe('StatusCounts', () => {
  it('renders the codec’s hash for the same statuses', () => {
    const counts = new StatusCounts();
    const statuses: InstanceStatus[] = ['UP', 'DOWN', 'UP', 'STARTING', 'OUT_OF_SERVICE', 'UNKNOWN', 'UP'];
    for (const s of statuses) counts.move(undefined, s);
    expect(counts.hashCode()).toBe(appsHashCode(statuses.map((status) => ({ status }))));
    expect(counts.hashCode()).toBe('DOWN_1_OUT_OF_SERVICE_1_STARTING_1_UNKNOWN_1_UP_3_');
    counts.move('UP', 'DOWN');
    counts.move('UNKNOWN', undefined);
    expect(counts.hashCode()).toBe('DOWN_2_OUT_OF_SERVICE_1_STARTING_1_UP_2_');
  });

  it('the registry’s hash equals the codec’s hash of what it serves, through a random mix of every operation', () => {
    const next = random(42);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
    const clock = new TestClock();
    const registry = new Registry({ clock: clock.read, selfPreservation: { enabled: false } });
    const ids = Array.from({ length: 30 }, (_, i) => `i${i}`);
    const restored: LeaseRecord[] = ids.slice(0, 5).map((id) => ({
      instance: instance('R', id, { status: 'DOWN' }),
      overriddenStatus: 'UNKNOWN',
      registrationTimestamp: clock.now,
      lastRenewalTimestamp: clock.now,
      serviceUpTimestamp: 0,
      actionType: 'ADDED',
    }));
    registry.restore(restored);
    for (let step = 0; step < 2000; step++) {
      const app = pick(['A', 'B', 'R']);
      const id = pick(ids);
      const status = pick(INSTANCE_STATUSES);
      switch (pick(['register', 'cancel', 'override', 'delete', 'metadata', 'renew', 'evict'] as const)) {
        case 'register': {
          const registrant = instance(app, id, { status, durationInSecs: 1 + Math.floor(next() * 5) });
          // An id another application holds is refused and changes nothing.
          if (registry.holderOf(id) === undefined || registry.holderOf(id) === app) registry.register(registrant);
          else expect(() => registry.register(registrant)).toThrow(/registered under another application/);
          break;
        }
        case 'cancel':
          registry.cancel(app, id);
          break;
        case 'override':
          registry.setStatusOverride(app, id, status);
          break;
        case 'delete':
          registry.deleteStatusOverride(app, id, next() < 0.5 ? {} : { status });
          break;
        case 'metadata':
          registry.updateMetadata(app, id, { k: String(step) });
          break;
        case 'renew':
          registry.renew(app, id, { lastDirtyTimestamp: clock.now, overriddenStatus: status, replicated: true });
          break;
        case 'evict':
          clock.advance(1000);
          registry.evictExpired();
          break;
      }
      const served = registry.applications().flatMap((a) => a.instances);
      expect(registry.appsHashCode(), `step ${step}`).toBe(appsHashCode(served));
      expect(registry.size).toBe(served.length);
    }
  });
});
