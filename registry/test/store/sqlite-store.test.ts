import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite, readSqliteMigrations } from '@trellis/kit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LeaseRecord } from '../../src/registry/events.ts';
import { Registry } from '../../src/registry/registry.ts';
import { persistRegistry } from '../../src/store/persistence.ts';
import { MIGRATIONS, openSqliteStore } from '../../src/store/sqlite-store.ts';
import { instance, silentLogger, T0, TestClock } from '../helpers.ts';

const dirs: string[] = [];
function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'registry-store-'));
  dirs.push(dir);
  return join(dir, 'nested', 'registry.db');
}
afterEach(() => {
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function lease(id: string, overrides: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    instance: instance('SHOP', id, { metadata: { zone: 'a' }, status: 'STARTING' }),
    overriddenStatus: 'OUT_OF_SERVICE',
    registrationTimestamp: T0,
    lastRenewalTimestamp: T0 + 10,
    serviceUpTimestamp: T0 + 5,
    actionType: 'MODIFIED',
    ...overrides,
  };
}

describe('openSqliteStore', () => {
  it('round-trips leases and the version through a file, creating its directory, in WAL mode', () => {
    const file = tempFile();
    const store = openSqliteStore(file);
    store.save(lease('s1'), 3);
    store.save(lease('s2'), 4);
    store.remove('SHOP', 's2', 5);
    store.close();

    const db = openSqlite(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();

    const again = openSqliteStore(file);
    const loaded = again.load();
    expect(loaded.version).toBe(5);
    expect(loaded.skipped).toEqual([]);
    expect(loaded.leases).toEqual([lease('s1')]);
    again.close();
  });

  it('writes renewals in a batch and never moves a renewal backwards', () => {
    const store = openSqliteStore(':memory:');
    store.save(lease('s1'), 1);
    store.saveRenewals([
      { app: 'SHOP', id: 's1', at: T0 + 500 },
      { app: 'SHOP', id: 'gone', at: T0 + 500 },
    ]);
    store.saveRenewals([{ app: 'SHOP', id: 's1', at: T0 + 100 }]);
    expect(store.load().leases[0]?.lastRenewalTimestamp).toBe(T0 + 500);
    store.close();
  });

  it('drops rows it cannot read back and says why', () => {
    const file = tempFile();
    const store = openSqliteStore(file);
    store.save(lease('s1'), 1);
    store.close();
    const db = openSqlite(file);
    db.prepare('UPDATE instances SET instance = \'{"instance":{"app":"SHOP"}}\'').run();
    db.close();
    const again = openSqliteStore(file);
    const loaded = again.load();
    expect(loaded.leases).toEqual([]);
    expect(loaded.skipped).toEqual([{ app: 'SHOP', id: 's1', reason: 'Missing instanceId' }]);
    expect(again.load().skipped).toEqual([]);
    again.close();
  });

  it('applies migrations once and records the schema version', () => {
    const file = tempFile();
    openSqliteStore(file).close();
    openSqliteStore(file).close();
    const db = openSqlite(file);
    expect(db.pragma('user_version', { simple: true })).toBe(readSqliteMigrations(MIGRATIONS).at(-1)?.version);
    db.close();
  });

  it('refuses a database from a newer build', () => {
    const file = tempFile();
    openSqliteStore(file).close();
    const db = openSqlite(file);
    db.pragma('user_version = 999');
    db.close();
    expect(() => openSqliteStore(file)).toThrow(/schema version 999, newer than this build/);
  });
});

describe('persistRegistry', () => {
  it('saves every change as it happens and renewals once per interval', () => {
    vi.useFakeTimers();
    const clock = new TestClock();
    const store = openSqliteStore(':memory:');
    const registry = new Registry({ clock: clock.read });
    const persistence = persistRegistry({ registry, store, log: silentLogger(), flushIntervalMs: 1000 });

    registry.register(instance('SHOP', 's1'));
    registry.register(instance('SHOP', 's2'));
    registry.setStatusOverride('SHOP', 's1', 'OUT_OF_SERVICE');
    registry.cancel('SHOP', 's2');
    let stored = store.load();
    expect(stored.version).toBe(4);
    expect(stored.leases.map((l) => [l.instance.instanceId, l.overriddenStatus])).toEqual([['s1', 'OUT_OF_SERVICE']]);

    clock.advance(30_000);
    registry.renew('SHOP', 's1');
    expect(store.load().leases[0]?.lastRenewalTimestamp).toBe(T0);
    vi.advanceTimersByTime(1000);
    stored = store.load();
    expect(stored.leases[0]?.lastRenewalTimestamp).toBe(T0 + 30_000);

    clock.advance(30_000);
    registry.renew('SHOP', 's1');
    persistence.stop();
    expect(store.load().leases[0]?.lastRenewalTimestamp).toBe(T0 + 60_000);
    registry.register(instance('SHOP', 's3'));
    expect(store.load().leases).toHaveLength(1);
    store.close();
  });

  it('saves evictions and restores what is left into a new registry', () => {
    const clock = new TestClock();
    const store = openSqliteStore(':memory:');
    const first = new Registry({ clock: clock.read, selfPreservation: { enabled: false } });
    persistRegistry({ registry: first, store, log: silentLogger() });
    first.register(instance('SHOP', 'short', { durationInSecs: 1 }));
    first.register(instance('SHOP', 'long'));
    clock.advance(1000);
    first.evictExpired();

    const second = new Registry({ clock: clock.read });
    persistRegistry({ registry: second, store, log: silentLogger() });
    expect(second.applications().flatMap((a) => a.instances.map((i) => i.instanceId))).toEqual(['long']);
    expect(second.version).toBe(first.version);
    store.close();
  });
});
