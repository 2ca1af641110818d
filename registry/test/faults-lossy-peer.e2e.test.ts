// Fault injection on the network: a registry peer in its own network namespace behind a link that drops ~30 % of the
// packets reaching it (nftables), its peer on this side of the link. Registrations on either side reach the other
// through replication retries; the test counts what arrives.
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '@trellis/kit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { lossyLink, requireNetnsPrivileges, type LossyLink } from './support-faults/netns.ts';
import {
  dataDirs,
  duplicates,
  killAll,
  listedInstanceIds,
  pool,
  registerOnce,
  startRegistryProcess,
  until,
} from './support-faults/processes.ts';

const dirs = dataDirs('registry-faults-lossy-');
let link: LossyLink | undefined;
afterEach(async () => {
  await killAll();
  link?.remove();
});
afterAll(dirs.remove);

const PER_SIDE = 100;
/** Generous: each lost connect costs a 1 s connect timeout and a backoff (0.5 s doubling) before the batch goes again. */
const ARRIVAL_BOUND_MS = 60_000;
/** The namespace is new: nothing else listens there. */
const INNER_PORT = 8761;

describe('a registry peer behind a link dropping 30 % of its packets', () => {
  it(
    'gets every registration made on its peer, and its own reach the peer, through retries',
    { timeout: 90_000 },
    async () => {
      requireNetnsPrivileges();
      link = lossyLink(30);
      const hostPort = await freePort();
      const hostPeer = `http://${link.hostAddress}:${hostPort}/eureka`;
      const innerPeer = `http://${link.innerAddress}:${INNER_PORT}/eureka`;
      const inner = startRegistryProcess({
        port: INNER_PORT,
        host: link.innerAddress,
        dataDir: dirs.make(),
        peers: [hostPeer],
        wrapper: link.wrapper,
      });
      link.attach(inner.child.pid ?? 0);
      const host = startRegistryProcess({
        port: hostPort,
        host: link.hostAddress,
        dataDir: dirs.make(),
        peers: [innerPeer],
      });
      await host.listening;
      inner.child.stdin?.end('go\n');
      await inner.listening;

      const onHost = new Set<string>();
      const onInner = new Set<string>();
      let innerAttempts = 0;
      let innerUnanswered = 0;
      const ids = (prefix: string): string[] => Array.from({ length: PER_SIDE }, (_, i) => `${prefix}-${i}`);
      const registerBothSides = (phase: string): Promise<unknown> =>
        Promise.all([
          pool(ids(`host-side-${phase}`), 10, async (id) => {
            if ((await registerOnce(host.base, 'FAULTS', id)) === 204) onHost.add(id);
          }),
          // The client's own requests to the lossy side cross the link too: it retries, as a Eureka client does on
          // its next heartbeat, until the registration is acknowledged.
          pool(ids(`lossy-side-${phase}`), 10, async (id) => {
            for (let attempt = 0; attempt < 30 && !onInner.has(id); attempt++) {
              innerAttempts++;
              const status = await registerOnce(inner.base, 'FAULTS', id, 3000);
              if (status === 204) onInner.add(id);
              else innerUnanswered++;
            }
          }),
        ]);

      // 30 % loss throughout; then the link is cut for 5 s while a second round is registered on both sides, so
      // batches fail outright and go again after the replicator's backoff once it heals (back to 30 %).
      await registerBothSides('lossy');
      link.setLoss(100);
      const heal = async (cut: LossyLink): Promise<void> => {
        await sleep(5000);
        cut.setLoss(30);
      };
      await Promise.all([registerBothSides('cut'), heal(link)]);
      expect(onHost.size).toBe(2 * PER_SIDE);
      expect(onInner.size).toBe(2 * PER_SIDE);

      const arrived = { onInner: 0, onHost: 0 };
      const all = [...onHost, ...onInner].sort();
      const both = async (): Promise<boolean> => {
        const [innerList, hostList] = await Promise.all([
          listedInstanceIds(inner.base, 5000),
          listedInstanceIds(host.base, 5000),
        ]);
        const innerSet = new Set(innerList);
        const hostSet = new Set(hostList);
        arrived.onInner = [...onHost].filter((id) => innerSet.has(id)).length;
        arrived.onHost = [...onInner].filter((id) => hostSet.has(id)).length;
        return arrived.onInner === onHost.size && arrived.onHost === onInner.size;
      };
      let arrivedAfter: number | undefined;
      try {
        arrivedAfter = await until(both, 'every registration on both sides of the lossy link', ARRIVAL_BOUND_MS);
      } finally {
        console.log(
          `lossy peer (${link.dropped()} packets dropped): acknowledged ${onHost.size} on the host side and ` +
            `${onInner.size} on the lossy side (${innerAttempts} attempts, ${innerUnanswered} unanswered); ` +
            `arrived on the lossy side ${arrived.onInner}/${onHost.size}, on the host side ${arrived.onHost}/${onInner.size}` +
            (arrivedAfter === undefined ? '' : `, all within ${Math.round(arrivedAfter)} ms`),
        );
      }
      expect(link.dropped()).toBeGreaterThan(0);
      // The cut made replication fail and retry, not only TCP retransmit.
      const retries = [host, inner].map((n) => n.output().split('peer unreachable; retrying with backoff').length - 1);
      console.log(
        `lossy peer: replication fell back to retries ${retries[0]} times on the host side, ${retries[1]} on the lossy side`,
      );
      expect(retries[0]).toBeGreaterThan(0);
      let lists: string[][] = [];
      await until(
        async () => {
          lists = await Promise.all([listedInstanceIds(host.base), listedInstanceIds(inner.base, 5000)]);
          return true;
        },
        'both registries listed across the lossy link',
        20_000,
      );
      for (const listed of lists) {
        expect(duplicates(listed)).toEqual([]);
        expect([...listed].sort()).toEqual(all);
      }
    },
  );
});
