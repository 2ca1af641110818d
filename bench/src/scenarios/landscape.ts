// The landscape of `npm start`, as its own process: GET /product-composite/1 through the gateway (token checked,
// lb://, then the composite's three calls) against the composite service called directly, and the landscape's
// resident memory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, residentMb } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const BIN = fileURLToPath(new URL('../../../cli/bin/trellis.js', import.meta.url));
const CONFIG_REPO = fileURLToPath(new URL('../../../config-repo', import.meta.url));
const PORTS = [
  'REGISTRY',
  'CONFIG_SERVER',
  'AUTH_SERVER',
  'GATEWAY',
  'GATEWAY_HTTPS',
  'PRODUCT',
  'RECOMMENDATION',
  'REVIEW',
  'PRODUCT_COMPOSITE',
];

export function urlOf(summary: string, name: string): string {
  const m = new RegExp(`^ {2}${name} +(http://\\S+)`, 'm').exec(summary);
  if (m?.[1] === undefined) throw new Error(`bench: no URL for ${name} in the summary`);
  return m[1];
}

export interface Landscape {
  readonly child: ChildProcess;
  /** What `trellis up` printed once every component started (the summary). */
  readonly summary: string;
  stop(): Promise<void>;
}

/**
 * Spawns `trellis up` with every component on a free port and a data directory of its own, and waits for its summary
 * (printed once every component started). `stop` sends SIGTERM, waits for the exit and removes the data directory.
 */
export async function startLandscape(args: readonly string[] = [], timeoutMs = 30_000): Promise<Landscape> {
  const dataDir = await mkdtemp(join(tmpdir(), 'trellis-bench-landscape-'));
  const child = spawn(process.execPath, [BIN, 'up', '--data-dir', dataDir, '--log-level', 'warn', ...args], {
    env: { ...process.env, ...Object.fromEntries(PORTS.map((p) => [`${p}_PORT`, '0'])), CONFIG_REPO },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    await rm(dataDir, { recursive: true, force: true });
  };
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const deadline = Date.now() + timeoutMs;
  while (!out.includes('Press Ctrl-C')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error('bench: the landscape did not start');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, summary: out, stop };
}

export const landscape: Scenario = {
  name: 'landscape',
  async run({ figure }) {
    const started = await startLandscape();
    const { child, summary: out } = started;
    try {
      const secret = /development client reader \/ (\S+)/.exec(out)?.[1] ?? '';
      const tokenRes = await fetch(`${urlOf(out, 'auth-server')}/oauth2/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`reader:${secret}`).toString('base64')}` },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'product:read' }),
      });
      const { access_token: token } = (await tokenRes.json()) as { access_token: string };
      const headers = { authorization: `Bearer ${token}` };
      const gateway = await load({ url: `${urlOf(out, 'gateway')}/product-composite/1`, headers });
      const direct = await load({ url: `${urlOf(out, 'product-composite')}/product-composite/1`, headers });
      if (gateway.non2xx + gateway.errors > 0 || direct.non2xx + direct.errors > 0) {
        throw new Error(
          `bench: failed requests (gateway ${gateway.non2xx + gateway.errors}, direct ${direct.non2xx + direct.errors})`,
        );
      }
      figure('landscape: composite through the gateway', gateway.requestsPerSec, 'req/s', {
        note: `p50 ${gateway.p50Ms} ms, p99 ${gateway.p99Ms} ms`,
      });
      figure('landscape: composite direct', direct.requestsPerSec, 'req/s', {
        note: `p50 ${direct.p50Ms} ms, p99 ${direct.p99Ms} ms`,
      });
      figure('landscape: gateway / direct', gateway.requestsPerSec / direct.requestsPerSec, 'ratio', {
        min: 0.5,
        note: 'the gateway checks the token and routes lb:// in the same process as the services',
      });
      figure('landscape: resident memory', await residentMb(child.pid ?? 0), 'MB', {
        max: 600,
        note: 'every component of npm start in one process',
      });
    } finally {
      await started.stop();
    }
  },
};
