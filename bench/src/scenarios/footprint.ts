// What one example service costs to run on its own, as docker-compose runs it (`trellis product`): the time from
// spawn to a healthy, registered service, and its resident memory once it is. A config server and a registry run
// beside it in processes of their own; the median of five starts is reported.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, residentMb } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const BIN = fileURLToPath(new URL('../../../cli/bin/trellis.js', import.meta.url));
const CONFIG_REPO = fileURLToPath(new URL('../../../config-repo', import.meta.url));
/** The key config-repo's `{cipher}` values were made with (examples' DEV_ENCRYPT_KEY). */
const ENCRYPT_KEY = 'trellis-dev-only-encrypt-key';
const STARTS = 5;

interface Started {
  readonly child: ChildProcess;
  readonly url: string;
  readonly ms: number;
}

/** Runs `trellis <args>` and waits for its URL in its output, answering it and how long it took. */
async function trellis(args: readonly string[], env: NodeJS.ProcessEnv, urlPattern: RegExp): Promise<Started> {
  const began = performance.now();
  const child = spawn(process.execPath, [BIN, ...args, '--log-format', 'json'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = urlPattern.exec(out);
    if (m?.[1] !== undefined) return { child, url: m[1], ms: performance.now() - began };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`bench: trellis ${args[0]} did not start:\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export const footprint: Scenario = {
  name: 'footprint',
  async run({ figure }) {
    const dataDir = await mkdtemp(join(tmpdir(), 'trellis-bench-footprint-'));
    const common = { TRELLIS_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    // The start-up summary trellis prints once the component is up: "  name  http://host:port".
    const listening = /^ {2}\S+ +(http:\/\/\S+)/m;
    const registry = await trellis(
      ['registry', '--port', '0', '--host', '127.0.0.1', '--allow-open-writes'],
      common,
      listening,
    );
    const config = await trellis(
      ['config-server', '--port', '0', '--host', '127.0.0.1', '--http'],
      { ...common, CONFIG_REPO, ENCRYPT_KEY },
      listening,
    );
    const times: number[] = [];
    const sizes: number[] = [];
    try {
      for (let i = 0; i < STARTS; i++) {
        const product = await trellis(
          ['product', '--port', '0', '--host', '127.0.0.1'],
          {
            ...common,
            SPRING_CLOUD_CONFIG_URI: config.url,
            EUREKA_CLIENT_SERVICEURL_DEFAULTZONE: `${registry.url}/eureka/`,
          },
          listening,
        );
        try {
          const health = await fetch(`${product.url}/actuator/health`);
          if (health.status !== 200) throw new Error(`bench: product health answered ${health.status}`);
          times.push(product.ms);
          // Settled memory: what the process holds once started, not its start-up garbage.
          await new Promise((r) => setTimeout(r, 1000));
          sizes.push(await residentMb(product.child.pid ?? 0));
        } finally {
          await stop(product.child);
        }
      }
      figure('example service: spawn → listening', median(times), 'ms', {
        note: `trellis product on its own, config fetched over HTTP; ${STARTS} starts, ${Math.round(Math.min(...times))}–${Math.round(Math.max(...times))} ms`,
      });
      figure('example service: resident memory', median(sizes), 'MB', {
        note: `1 s after start; ${STARTS} starts, ${Math.min(...sizes).toFixed(1)}–${Math.max(...sizes).toFixed(1)} MB`,
      });
    } finally {
      await stop(config.child);
      await stop(registry.child);
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
