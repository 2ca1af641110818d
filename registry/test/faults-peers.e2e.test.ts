// Fault injection across peers: three `trellis registry --peers …` nodes, one SIGKILLed while registrations keep going
// to the others, restarted on its data directory: it catches up with all of them within a bounded time.
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@trellis/kit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  dataDirs,
  duplicates,
  killAll,
  listedInstanceIds,
  pool,
  registerOnce,
  startRegistryProcess,
  until,
  type RegistryProcess,
} from './support-faults/processes.ts';

const dirs = dataDirs('registry-faults-peers-');
afterEach(killAll);
afterAll(dirs.remove);

/**
 * How long the restarted node may take to hold everything, generously: it copies the registry from a peer before it
 * listens, and what was registered between that copy and its listening arrives with the peers' next retry (backoff
 * from 0.5 s doubling, so a few seconds after a short outage), on a shared 2-core machine.
 */
const CATCH_UP_BOUND_MS = 45_000;

describe('three registry peers, one SIGKILLed while the others take registrations', () => {
  it(
    'the restarted node catches up with every acknowledged registration within the bound',
    { timeout: 90_000 },
    async () => {
      const ports = [await freePort(), await freePort(), await freePort()];
      const peers = ports.map((p) => `http://127.0.0.1:${p}/eureka`);
      const dirsOf = ports.map(() => dirs.make());
      const node = (i: number): RegistryProcess =>
        startRegistryProcess({ port: ports[i] ?? 0, host: '127.0.0.1', dataDir: dirsOf[i] ?? '', peers });
      const a = node(0);
      let b = node(1);
      const c = node(2);
      await Promise.all([a.listening, b.listening, c.listening]);

      const acknowledged = new Set<string>();
      const unanswered: string[] = [];
      const registerAll = async (on: RegistryProcess, ids: readonly string[]): Promise<void> =>
        pool(ids, 20, async (id) => {
          const status = await registerOnce(on.base, 'FAULTS', id);
          if (status === 204) acknowledged.add(id);
          else unanswered.push(`${id}: ${status ?? 'no answer'}`);
        });
      const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
      const holdsAll = async (on: RegistryProcess): Promise<boolean> => {
        const listed = new Set(await listedInstanceIds(on.base, 2000));
        return [...acknowledged].every((id) => listed.has(id));
      };

      // Everyone holds the first registrations before the fault.
      await registerAll(a, ids('before', 100));
      await until(async () => (await holdsAll(b)) && (await holdsAll(c)), 'first registrations on every node', 30_000);

      // B dies; registrations go on at A and C, a steady stream, through its outage, its restart and beyond.
      await b.kill();
      let streaming = true;
      let sent = 0;
      const stream = async (on: RegistryProcess, prefix: string): Promise<void> => {
        for (let i = 0; streaming; i++) {
          const id = `${prefix}-${i}`;
          sent++;
          const status = await registerOnce(on.base, 'FAULTS', id);
          if (status === 204) acknowledged.add(id);
          else unanswered.push(`${id}: ${status ?? 'no answer'}`);
          await sleep(10);
        }
      };
      const during = Promise.all([stream(a, 'on-a'), stream(a, 'on-a2'), stream(c, 'on-c')]);
      await sleep(3000);
      const restartedAt = performance.now();
      b = node(1);
      await b.listening;
      const listeningAfter = performance.now() - restartedAt;
      await sleep(1500);
      streaming = false;
      await during;
      const lastWriteAt = performance.now();
      expect(unanswered).toEqual([]);

      const caughtUp = await until(
        async () => (await holdsAll(b)) && (await holdsAll(a)) && (await holdsAll(c)),
        'every acknowledged registration on every node',
        CATCH_UP_BOUND_MS,
      );
      const sinceRestart = lastWriteAt + caughtUp - restartedAt;
      const lists = await Promise.all([a, b, c].map((n) => listedInstanceIds(n.base)));
      const twice = lists.map(duplicates);
      console.log(
        `peers: acknowledged ${acknowledged.size} (${sent} sent while B was down or restarting), restarted node listening ` +
          `after ${Math.round(listeningAfter)} ms, every registration on every node ${Math.round(caughtUp)} ms after the ` +
          `last write, ${Math.round(sinceRestart)} ms after the restart ` +
          `(bound ${CATCH_UP_BOUND_MS} ms); listed A ${lists[0]?.length}, B ${lists[1]?.length}, C ${lists[2]?.length}; ` +
          `duplicates ${twice.map((d) => d.length).join('/')}`,
      );
      expect(acknowledged.size).toBe(100 + sent);
      expect(caughtUp).toBeLessThan(CATCH_UP_BOUND_MS);
      for (const listed of lists) expect([...listed].sort()).toEqual([...acknowledged].sort());
      expect(twice).toEqual([[], [], []]);
    },
  );
});
