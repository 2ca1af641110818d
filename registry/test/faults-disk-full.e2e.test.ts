// Fault injection on the disk: `trellis registry` on a data directory that fills up during a burst of
// registrations, then SIGKILLed and restarted: what it acknowledged with 204 is back; what it could not store it
// refused with 503 and Retry-After instead (it acknowledged them all with 204, and lost them, before).
import { freePort } from '@trellis/kit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { smallDisk, type SmallDisk } from './support-faults/small-disk.ts';
import {
  dataDirs,
  duplicates,
  instanceBody,
  killAll,
  listedInstanceIds,
  pool,
  startRegistryProcess,
} from './support-faults/processes.ts';

const dirs = dataDirs('registry-faults-disk-');
let disk: SmallDisk | undefined;
afterEach(async () => {
  await killAll();
  await disk?.release();
});
afterAll(dirs.remove);

describe('trellis registry on a disk that fills up', () => {
  it(
    'acknowledges only the registrations it stored, and has every one back after SIGKILL',
    { timeout: 90_000 },
    async () => {
      const dataDir = dirs.make();
      disk = await smallDisk(dataDir, '1m');
      const port = await freePort();
      const first = startRegistryProcess({ port, host: '127.0.0.1', dataDir, wrapper: disk.wrapper });
      await first.listening;

      const acknowledged = new Set<string>();
      const refused: { status: number; retryAfter: string | null }[] = [];
      const ids = Array.from({ length: 600 }, (_, i) => `disk-${i}`);
      await pool(ids, 10, async (id) => {
        const res = await fetch(`${first.base}/eureka/apps/FAULTS`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: instanceBody('FAULTS', id),
        }).catch((err: unknown) => {
          throw new Error(
            `registration ${id} got no answer (${String(err)}); the registry said:\n${first.output().slice(-3000)}`,
          );
        });
        await res.arrayBuffer();
        if (res.status === 204) acknowledged.add(id);
        else refused.push({ status: res.status, retryAfter: res.headers.get('retry-after') });
      });
      // The disk did fill: some were stored, the rest refused as a server that cannot take writes now.
      expect(acknowledged.size).toBeGreaterThan(0);
      expect(refused.length).toBeGreaterThan(0);
      expect(new Set(refused.map((r) => `${r.status} ${r.retryAfter}`))).toEqual(new Set(['503 5']));

      await first.kill();
      const second = startRegistryProcess({ port, host: '127.0.0.1', dataDir, wrapper: disk.wrapper });
      await second.listening;
      const listed = await listedInstanceIds(second.base);
      const restored = new Set(listed);
      const lost = [...acknowledged].filter((id) => !restored.has(id));
      console.log(
        `disk full: registrations sent ${ids.length}, acknowledged ${acknowledged.size}, refused with 503 ` +
          `${refused.length}, restored after SIGKILL ${restored.size}, lost ${lost.length}, duplicates ${duplicates(listed).length}`,
      );
      expect(lost).toEqual([]);
      expect(duplicates(listed)).toEqual([]);
    },
  );
});
