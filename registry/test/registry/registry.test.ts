import { describe, expect, it } from 'vitest';
import type { RegistryChange, RegistryRenewal } from '../../src/registry/events.ts';
import { Registry } from '../../src/registry/registry.ts';
import { instance, TestClock } from '../helpers.ts';

function setup() {
  const clock = new TestClock();
  const registry = new Registry({ clock: clock.read });
  const changes: RegistryChange[] = [];
  const renewals: RegistryRenewal[] = [];
  registry.onChange((c) => changes.push(c));
  registry.onRenewal((r) => renewals.push(r));
  return { clock, registry, changes, renewals };
}

describe('Registry.register', () => {
  it('adds a lease, emits ADDED with version 1 and the whole-registry hash', () => {
    const { registry, changes } = setup();
    const result = registry.register(instance('REVIEW', 'r1'));
    expect(result.action).toBe('ADDED');
    expect(registry.size).toBe(1);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ action: 'ADDED', cause: 'register', version: 1, appsHashCode: 'UP_1_' });
    expect(changes[0]?.instance.actionType).toBe('ADDED');
    expect(changes[0]?.replicated).toBe(false);
  });

  it('re-registration is MODIFIED, keeps serviceUpTimestamp and starts a fresh lease', () => {
    const { registry, clock } = setup();
    registry.register(instance('REVIEW', 'r1'));
    const firstUp = registry.instance('REVIEW', 'r1')?.leaseInfo.serviceUpTimestamp;
    clock.advance(5000);
    const result = registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: clock.now }));
    expect(result.action).toBe('MODIFIED');
    const served = registry.instance('REVIEW', 'r1');
    expect(served?.leaseInfo.serviceUpTimestamp).toBe(firstUp);
    expect(served?.leaseInfo.registrationTimestamp).toBe(clock.now);
    expect(registry.size).toBe(1);
    expect(registry.version).toBe(2);
  });

  it('keeps the held copy when a re-registration carries an older lastDirtyTimestamp', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 2000, metadata: { v: 'new' } }));
    const result = registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 1000, metadata: { v: 'old' } }));
    expect(result.keptNewer).toBe(true);
    expect(registry.instance('REVIEW', 'r1')?.metadata).toEqual({ v: 'new' });
  });

  it('upper-cases the app of an instance handed to the model directly', () => {
    const { registry } = setup();
    registry.register({ ...instance('REVIEW', 'r1'), app: 'review' });
    expect(registry.instance('review', 'r1')?.app).toBe('REVIEW');
    expect(registry.applications().map((a) => a.name)).toEqual(['REVIEW']);
  });

  it('marks replicated registrations so a replicator can skip them', () => {
    const { registry, changes } = setup();
    registry.register(instance('REVIEW', 'r1'), { replicated: true });
    expect(changes[0]?.replicated).toBe(true);
  });

  it('takes an overriddenStatus from the registration when none is held', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1', { overriddenStatus: 'OUT_OF_SERVICE' }));
    expect(registry.instance('REVIEW', 'r1')).toMatchObject({
      status: 'OUT_OF_SERVICE',
      overriddenStatus: 'OUT_OF_SERVICE',
    });
  });

  it('records recent registrations, newest first', () => {
    const { registry, clock } = setup();
    registry.register(instance('A', 'a1'));
    clock.advance(1);
    registry.register(instance('B', 'b1'));
    expect(registry.recentRegistrations()).toEqual([
      { at: clock.now, app: 'B', id: 'b1' },
      { at: clock.now - 1, app: 'A', id: 'a1' },
    ]);
  });

  it('keeps only the last 1000 registrations', () => {
    const { registry } = setup();
    for (let i = 0; i < 1100; i++) registry.register(instance('A', `a${i}`));
    const recent = registry.recentRegistrations();
    expect(recent).toHaveLength(1000);
    expect(recent[0]?.id).toBe('a1099');
    expect(recent.at(-1)?.id).toBe('a100');
  });
});

describe('Registry.renew', () => {
  it('renews a known lease without a change event, and tells renewal subscribers', () => {
    const { registry, clock, changes, renewals } = setup();
    registry.register(instance('REVIEW', 'r1'));
    clock.advance(30_000);
    expect(registry.renew('review', 'r1')).toEqual({ outcome: 'renewed' });
    expect(changes).toHaveLength(1);
    expect(renewals).toEqual([{ app: 'REVIEW', id: 'r1', at: clock.now, replicated: false }]);
    expect(registry.instance('REVIEW', 'r1')?.leaseInfo.lastRenewalTimestamp).toBe(clock.now);
    expect(registry.renewsLastMinute()).toBe(1);
  });

  it('answers not_found for an unknown lease so the client re-registers', () => {
    const { registry } = setup();
    expect(registry.renew('REVIEW', 'nope')).toEqual({ outcome: 'not_found', reason: 'unknown' });
  });

  it('answers not_found when the client’s lastDirtyTimestamp is newer than the registry’s copy', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 1000 }));
    expect(registry.renew('REVIEW', 'r1', { lastDirtyTimestamp: 2000 })).toEqual({
      outcome: 'not_found',
      reason: 'client_newer',
    });
  });

  it('answers conflict with the registry’s copy when a replica’s copy is older', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 2000 }));
    const result = registry.renew('REVIEW', 'r1', { lastDirtyTimestamp: 1000, replicated: true });
    expect(result.outcome).toBe('conflict');
    expect(result.outcome === 'conflict' && result.instance.lastDirtyTimestamp).toBe(2000);
  });

  it('simply renews when a plain client’s copy is older (only replicas sync from a 409)', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 2000 }));
    expect(registry.renew('REVIEW', 'r1', { lastDirtyTimestamp: 1000 })).toEqual({ outcome: 'renewed' });
  });

  it('stores a replica’s override when the replica’s copy is newer, as Eureka does', () => {
    const { registry, changes } = setup();
    registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 1000 }));
    const result = registry.renew('REVIEW', 'r1', {
      lastDirtyTimestamp: 2000,
      overriddenStatus: 'OUT_OF_SERVICE',
      replicated: true,
    });
    expect(result.outcome).toBe('not_found');
    expect(registry.instance('REVIEW', 'r1')?.status).toBe('OUT_OF_SERVICE');
    expect(changes.at(-1)).toMatchObject({ action: 'MODIFIED', cause: 'status', replicated: true });
  });

  it('answers not_found while the served status is UNKNOWN, so the client re-registers with its real status', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1'));
    registry.deleteStatusOverride('REVIEW', 'r1', { status: 'UNKNOWN' });
    expect(registry.renew('REVIEW', 'r1')).toEqual({ outcome: 'not_found', reason: 'status_unknown' });
  });
});

describe('status overrides', () => {
  it('an override changes the served status, emits MODIFIED and survives heartbeats', () => {
    const { registry, changes, clock } = setup();
    registry.register(instance('REVIEW', 'r1'));
    expect(registry.setStatusOverride('REVIEW', 'r1', 'OUT_OF_SERVICE')).toBe(true);
    expect(changes.at(-1)).toMatchObject({ action: 'MODIFIED', cause: 'status', appsHashCode: 'OUT_OF_SERVICE_1_' });
    clock.advance(30_000);
    registry.renew('REVIEW', 'r1', { lastDirtyTimestamp: registry.instance('REVIEW', 'r1')?.lastDirtyTimestamp });
    expect(registry.instance('REVIEW', 'r1')).toMatchObject({
      status: 'OUT_OF_SERVICE',
      overriddenStatus: 'OUT_OF_SERVICE',
    });
  });

  it('an override survives a re-registration (the client restarting)', () => {
    const { registry, clock } = setup();
    registry.register(instance('REVIEW', 'r1'));
    registry.setStatusOverride('REVIEW', 'r1', 'OUT_OF_SERVICE');
    clock.advance(1000);
    registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: clock.now }));
    expect(registry.instance('REVIEW', 'r1')?.status).toBe('OUT_OF_SERVICE');
  });

  it('an instance that reports DOWN or STARTING is served so, whatever the override', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1', { status: 'STARTING' }));
    registry.setStatusOverride('REVIEW', 'r1', 'UP');
    expect(registry.instance('REVIEW', 'r1')?.status).toBe('STARTING');
    expect(registry.instance('REVIEW', 'r1')?.overriddenStatus).toBe('UP');
  });

  it('deleting the override serves the instance’s own status again at once', () => {
    const { registry, changes } = setup();
    registry.register(instance('REVIEW', 'r1'));
    registry.setStatusOverride('REVIEW', 'r1', 'OUT_OF_SERVICE');
    expect(registry.deleteStatusOverride('REVIEW', 'r1')).toBe(true);
    expect(registry.instance('REVIEW', 'r1')).toMatchObject({ status: 'UP', overriddenStatus: 'UNKNOWN' });
    expect(changes.at(-1)).toMatchObject({ action: 'MODIFIED', cause: 'status-override-deleted' });
  });

  it('deleting with a value serves that value (Eureka’s ?value=)', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1'));
    registry.setStatusOverride('REVIEW', 'r1', 'OUT_OF_SERVICE');
    registry.deleteStatusOverride('REVIEW', 'r1', { status: 'DOWN' });
    expect(registry.instance('REVIEW', 'r1')?.status).toBe('DOWN');
  });

  it('takes a newer lastDirtyTimestamp with a status update and ignores an older one', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 5000 }));
    registry.setStatusOverride('REVIEW', 'r1', 'DOWN', { lastDirtyTimestamp: 4000 });
    expect(registry.instance('REVIEW', 'r1')?.lastDirtyTimestamp).toBe(5000);
    registry.setStatusOverride('REVIEW', 'r1', 'UP', { lastDirtyTimestamp: 6000 });
    expect(registry.instance('REVIEW', 'r1')?.lastDirtyTimestamp).toBe(6000);
  });

  it('answers false for unknown instances and changes nothing', () => {
    const { registry, changes } = setup();
    expect(registry.setStatusOverride('REVIEW', 'x', 'DOWN')).toBe(false);
    expect(registry.deleteStatusOverride('REVIEW', 'x')).toBe(false);
    expect(registry.updateMetadata('REVIEW', 'x', { a: 'b' })).toBe(false);
    expect(registry.cancel('REVIEW', 'x')).toBe(false);
    expect(changes).toEqual([]);
    expect(registry.version).toBe(0);
  });
});

describe('Registry.cancel and metadata', () => {
  it('cancel removes the lease and emits DELETED with the eviction time set', () => {
    const { registry, changes, clock } = setup();
    registry.register(instance('REVIEW', 'r1'));
    clock.advance(10);
    expect(registry.cancel('review', 'r1')).toBe(true);
    expect(registry.size).toBe(0);
    expect(registry.application('REVIEW')).toBeUndefined();
    expect(changes.at(-1)).toMatchObject({ action: 'DELETED', cause: 'cancel', appsHashCode: '' });
    expect(changes.at(-1)?.instance.leaseInfo.evictionTimestamp).toBe(clock.now);
    expect(registry.recentCancellations()).toEqual([{ at: clock.now, app: 'REVIEW', id: 'r1', reason: 'cancel' }]);
  });

  it('cancel drops the override too, so a new registration starts clean', () => {
    const { registry } = setup();
    registry.register(instance('REVIEW', 'r1'));
    registry.setStatusOverride('REVIEW', 'r1', 'OUT_OF_SERVICE');
    registry.cancel('REVIEW', 'r1');
    registry.register(instance('REVIEW', 'r1'));
    expect(registry.instance('REVIEW', 'r1')?.status).toBe('UP');
  });

  it('metadata merges entries and emits MODIFIED only when something changed', () => {
    const { registry, changes } = setup();
    registry.register(instance('REVIEW', 'r1', { metadata: { a: '1' } }));
    registry.updateMetadata('REVIEW', 'r1', { b: '2' });
    expect(registry.instance('REVIEW', 'r1')?.metadata).toEqual({ a: '1', b: '2' });
    expect(changes.at(-1)).toMatchObject({ action: 'MODIFIED', cause: 'metadata' });
    const version = registry.version;
    registry.updateMetadata('REVIEW', 'r1', { b: '2' });
    expect(registry.version).toBe(version);
  });
});

describe('reads and subscriptions', () => {
  it('finds instances by id across applications', () => {
    const { registry } = setup();
    registry.register(instance('A', 'a1'));
    registry.register(instance('B', 'b1'));
    expect(registry.instanceById('b1')?.app).toBe('B');
    expect(registry.instanceById('zz')).toBeUndefined();
  });

  it('versions increase by one per change', () => {
    const { registry, changes } = setup();
    registry.register(instance('A', 'a1'));
    registry.setStatusOverride('A', 'a1', 'DOWN');
    registry.cancel('A', 'a1');
    expect(changes.map((c) => c.version)).toEqual([1, 2, 3]);
  });

  it('unsubscribes, and a throwing subscriber neither blocks the others nor the change', () => {
    const errors: unknown[] = [];
    const registry = new Registry({ clock: () => 0, onListenerError: (err) => errors.push(err) });
    const seen: number[] = [];
    registry.onChange(() => {
      throw new Error('boom');
    });
    const off = registry.onChange((c) => seen.push(c.version));
    registry.register(instance('A', 'a1'));
    off();
    registry.register(instance('A', 'a2'));
    expect(seen).toEqual([1]);
    expect(errors).toHaveLength(2);
    expect(registry.size).toBe(2);
    expect(registry.changeListenerCount).toBe(1);
  });
});
