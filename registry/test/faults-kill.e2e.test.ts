// Fault injection: `trellis registry` SIGKILLed in the middle of a burst of registrations and heartbeats, restarted on
// the same data directory: every registration it acknowledged with 204 is back, none twice.
import { freePort } from '@trellis/kit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  dataDirs,
  duplicates,
  killAll,
  listedInstanceIds,
  pool,
  registerOnce,
  renewOnce,
  startRegistryProcess,
} from './support-faults/processes.ts';

const dirs = dataDirs('registry-faults-kill-');
afterEach(killAll);
afterAll(dirs.remove);

const APPS = ['FAULTS-A', 'FAULTS-B', 'FAULTS-C', 'FAULTS-D', 'FAULTS-E'];
const N = 500;
/** Acknowledged registrations after which the registry is killed: half the burst, with ~50 more in flight. */
const KILL_AFTER = 250;

describe('trellis registry killed with SIGKILL during a burst', () => {
  it('has every acknowledged registration back after the restart, none listed twice', { timeout: 90_000 }, async () => {
    const dataDir = dirs.make();
    const port = await freePort();
    const first = startRegistryProcess({ port, host: '127.0.0.1', dataDir });
    await first.listening;

    const instances = Array.from({ length: N }, (_, i) => ({
      app: APPS[i % APPS.length] ?? 'FAULTS-A',
      id: `kill-${i}`,
    }));
    const attempted = new Set<string>();
    const acknowledged = new Map<string, string>();
    let renewed = 0;
    let killed: Promise<void> | undefined;
    await pool(
      instances,
      50,
      async ({ app, id }) => {
        attempted.add(id);
        const status = await registerOnce(first.base, app, id);
        if (status !== 204) return;
        acknowledged.set(id, app);
        // The kill lands while the other workers' registrations and heartbeats are on the wire.
        if (acknowledged.size === KILL_AFTER) killed = first.kill();
        if ((await renewOnce(first.base, app, id)) === 200) renewed++;
      },
      () => killed !== undefined,
    );
    await killed;
    expect(first.child.signalCode).toBe('SIGKILL');
    // Mid-burst: some registrations were acknowledged, not all were sent.
    expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER);
    expect(attempted.size).toBeLessThan(N);

    const second = startRegistryProcess({ port, host: '127.0.0.1', dataDir });
    await second.listening;
    const listed = await listedInstanceIds(second.base);
    const restored = new Set(listed);
    const lost = [...acknowledged.keys()].filter((id) => !restored.has(id));
    const twice = duplicates(listed);
    const inFlight = [...restored].filter((id) => !acknowledged.has(id));
    console.log(
      `kill -9 mid-burst: attempted ${attempted.size}, acknowledged ${acknowledged.size}, heartbeats acknowledged ${renewed}, ` +
        `restored ${restored.size} (of them in flight at the kill, unacknowledged: ${inFlight.length}), ` +
        `lost ${lost.length}, duplicates ${twice.length}`,
    );
    expect(lost).toEqual([]);
    expect(twice).toEqual([]);
    // Nothing comes back that was never sent.
    expect(inFlight.filter((id) => !attempted.has(id))).toEqual([]);

    // Restored as live leases: each takes its heartbeat (a 404 would make its client re-register).
    const renewals = await Promise.all([...acknowledged].map(([id, app]) => renewOnce(second.base, app, id)));
    expect(renewals.filter((s) => s !== 200)).toEqual([]);
  });
});
