// Regression for the full-disk finding: a write whose change the store could not save is answered 503 with
// Retry-After, not acknowledged; the same write is acknowledged once the store takes it again. The store is the
// real SQLite one; the failure is injected in front of it (faults-disk-full.e2e.test.ts fills a real disk).
import { createService } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { Registry } from '../src/registry/registry.ts';
import { durableWrites } from '../src/store/durable-writes.ts';
import { persistRegistry } from '../src/store/persistence.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { RegistryStore } from '../src/store/store.ts';
import { jsClientBody, listedIds, register, silentLogger } from './helpers.ts';

function failingStoreApp() {
  const real = openSqliteStore(':memory:');
  const fault = { full: false };
  const fail = (): void => {
    if (fault.full) throw new Error('database or disk is full');
  };
  const store: RegistryStore = {
    ...real,
    save: (lease, version) => (fail(), real.save(lease, version)),
    remove: (app, id, version) => (fail(), real.remove(app, id, version)),
  };
  const registry = new Registry();
  const durable = durableWrites();
  const logger = silentLogger();
  persistRegistry({ registry, store, log: logger, onWriteFailed: durable.failed });
  const service = createService({ name: 'registry', logger, git: false });
  service.app.use(durable.middleware);
  service.app.route('/', createApp({ registry, stopping: service.stopping }));
  const stored = (): string[] => real.load().leases.map((l) => l.instance.instanceId);
  return { app: service.app, fault, stored };
}

describe('a write the store could not save', () => {
  it('is answered 503 with Retry-After, and acknowledged once the store takes it again', async () => {
    const { app, fault, stored } = failingStoreApp();
    expect((await register(app, jsClientBody({ hostName: 'stored' }))).status).toBe(204);

    fault.full = true;
    const refused = await register(app, jsClientBody({ hostName: 'not-stored' }));
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await refused.text()).toBe('The registry could not store the change; try again');
    expect(stored()).toEqual(['stored']);
    // Reads and refusals of bad input are what they were.
    expect(await listedIds(app)).toEqual(['not-stored', 'stored']);
    expect((await register(app, '{"instance":{}}')).status).toBe(400);
    const cancel = await app.request('/eureka/apps/JSAPP/stored', { method: 'DELETE' });
    expect(cancel.status).toBe(503);
    expect(stored()).toEqual(['stored']);

    fault.full = false;
    expect((await register(app, jsClientBody({ hostName: 'not-stored' }))).status).toBe(204);
    expect(stored().sort()).toEqual(['not-stored', 'stored']);
  });
});
