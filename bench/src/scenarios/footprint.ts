// What one example service costs to run on its own, as docker-compose runs it (`trellis product`): the time from
// spawn to a healthy, registered service, and its resident memory once it is. A config server and a registry run
// beside it in processes of their own; the median of five starts is reported.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_REPO, DEV_ENCRYPT_KEY, median, residentMb, startTrellis, stopProcess } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const STARTS = 5;

export const footprint: Scenario = {
  name: 'footprint',
  async run({ figure }) {
    const dataDir = await mkdtemp(join(tmpdir(), 'trellis-bench-footprint-'));
    const common = { TRELLIS_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    const registry = await startTrellis(
      ['registry', '--port', '0', '--host', '127.0.0.1', '--allow-open-writes'],
      common,
    );
    const config = await startTrellis(['config-server', '--port', '0', '--host', '127.0.0.1', '--http'], {
      ...common,
      CONFIG_REPO,
      ENCRYPT_KEY: DEV_ENCRYPT_KEY,
    });
    const times: number[] = [];
    const sizes: number[] = [];
    try {
      for (let i = 0; i < STARTS; i++) {
        const product = await startTrellis(['product', '--port', '0', '--host', '127.0.0.1'], {
          ...common,
          SPRING_CLOUD_CONFIG_URI: config.url,
          EUREKA_CLIENT_SERVICEURL_DEFAULTZONE: `${registry.url}/eureka/`,
        });
        try {
          const health = await fetch(`${product.url}/actuator/health`);
          if (health.status !== 200) throw new Error(`bench: product health answered ${health.status}`);
          times.push(product.ms);
          // Settled memory: what the process holds once started, not its start-up garbage.
          await new Promise((r) => setTimeout(r, 1000));
          sizes.push(await residentMb(product.child.pid ?? 0));
        } finally {
          await stopProcess(product.child);
        }
      }
      figure('example service: spawn → listening', median(times), 'ms', {
        note: `trellis product on its own, config fetched over HTTP; ${STARTS} starts, ${Math.round(Math.min(...times))}–${Math.round(Math.max(...times))} ms`,
      });
      figure('example service: resident memory', median(sizes), 'MB', {
        note: `1 s after start; ${STARTS} starts, ${Math.min(...sizes).toFixed(1)}–${Math.max(...sizes).toFixed(1)} MB`,
      });
    } finally {
      await stopProcess(config.child);
      await stopProcess(registry.child);
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
