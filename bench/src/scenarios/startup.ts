// What running a server from the built dist/ with plain node (an installed package) saves over running it from the
// TypeScript sources through tsx (the repository's way): `trellis <server>`'s spawn → listening time and resident
// memory, both ways, for the registry, config server, auth server and gateway.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CONFIG_REPO,
  DEV_ENCRYPT_KEY,
  median,
  residentMb,
  startTrellis,
  stopProcess,
  TRELLIS_BIN,
} from '../harness.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';

/** Starts per server and way; BENCH_ROUNDS, as for the other figures. */
const STARTS = Number(process.env.BENCH_ROUNDS ?? '5');
/** What tools/workspace-node.mjs adds to NODE_OPTIONS so imports resolve to the sources. */
const SOURCE_CONDITION = '--conditions=@trellis/source';
const CLI = dirname(dirname(TRELLIS_BIN));
const ROOT = dirname(CLI);

/** Each server with the least it needs to start alone on a free loopback port. */
const SERVERS: readonly { name: string; args: readonly string[]; env?: NodeJS.ProcessEnv }[] = [
  { name: 'registry', args: ['--allow-open-writes'] },
  { name: 'config-server', args: ['--http'], env: { CONFIG_REPO, ENCRYPT_KEY: DEV_ENCRYPT_KEY } },
  { name: 'auth-server', args: [] },
  { name: 'gateway', args: ['--http-only'] },
];

const WAYS = ['source', 'dist'] as const;
type Way = (typeof WAYS)[number];

/** NODE_OPTIONS for each way: the bench's own, with the source condition added or taken out. */
function nodeOptions(way: Way): string {
  const others = (process.env.NODE_OPTIONS ?? '').split(/\s+/).filter((o) => o !== '' && o !== SOURCE_CONDITION);
  return (way === 'source' ? [...others, SOURCE_CONDITION] : others).join(' ');
}

/**
 * Fails unless the code resolves to the sources for `source` and to dist/ for `dist`: a dist figure that still ran
 * the sources (a condition left in NODE_OPTIONS some other way) would report no difference.
 */
function checkEntry(way: Way): void {
  const resolved = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "process.stdout.write(import.meta.resolve('@trellis/kit'))"],
    { cwd: CLI, env: { ...process.env, NODE_OPTIONS: nodeOptions(way) }, encoding: 'utf8' },
  ).stdout;
  const expected = way === 'source' ? '/kit/src/index.ts' : '/kit/dist/index.js';
  if (!resolved.endsWith(expected)) throw new Error(`bench: the ${way} way runs ${resolved || 'nothing'}`);
}

/**
 * The entry of the dist way: what an installed `trellis` runs, cli/dist/main.js with plain node. Inside the
 * repository cli/bin/trellis.js always runs the sources, so the dist way starts this file instead.
 */
async function writeDistEntry(dir: string): Promise<string> {
  const file = join(dir, 'trellis-dist.mjs');
  const main = pathToFileURL(join(CLI, 'dist', 'main.js')).href;
  await writeFile(
    file,
    `const { main } = await import(${JSON.stringify(main)});\nawait main(process.argv.slice(2), process.env);\n`,
  );
  return file;
}

/** `npm run build`, so dist/ holds the code the sources hold now. */
async function build(): Promise<void> {
  const child = spawn(process.execPath, [join(ROOT, 'tools', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const code = await new Promise((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`bench: node tools/build.mjs exited with ${String(code)}`);
}

const range = (values: readonly number[], digits: number): string =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

function report(
  figure: ScenarioContext['figure'],
  server: string,
  what: { label: string; unit: string; digits: number },
  samples: Record<Way, number[]>,
): void {
  const medians = { source: median(samples.source), dist: median(samples.dist) };
  for (const way of WAYS) {
    figure(
      `${server} ${what.label}, ${way === 'source' ? 'sources via tsx' : 'dist/, plain node'}`,
      medians[way],
      what.unit,
      {
        note: `${samples[way].length} starts, ${range(samples[way], what.digits)} ${what.unit}`,
      },
    );
  }
  // Each start is paired with the other way's start beside it: a busy second that slows one start makes one pair's
  // ratio an outlier, which the median of the pairs leaves out (compare() does the same for throughput).
  const ratios = samples.dist.map((d, i) => d / (samples.source[i] ?? Number.NaN));
  figure(`${server} ${what.label}, dist / source`, median(ratios), 'ratio', {
    note: `median of ${ratios.length} paired starts, ${range(ratios, 2)}; ratio of the medians ${(medians.dist / medians.source).toFixed(2)}`,
  });
}

export const startup: Scenario = {
  name: 'startup',
  async run({ figure }) {
    await build();
    for (const way of WAYS) checkEntry(way);
    for (const server of SERVERS) {
      // One data directory per server, kept across its starts: the first start (unmeasured) makes its local CA,
      // keys and databases, so every measured start is a restart, as a deployed server's usually is.
      const dataDir = await mkdtemp(join(tmpdir(), `trellis-bench-startup-${server.name}-`));
      const times: Record<Way, number[]> = { source: [], dist: [] };
      const sizes: Record<Way, number[]> = { source: [], dist: [] };
      const distEntry = await writeDistEntry(dataDir);
      const start = (way: Way) =>
        startTrellis(
          [server.name, '--port', '0', '--host', '127.0.0.1', ...server.args],
          { ...server.env, TRELLIS_DATA_DIR: dataDir, LOG_LEVEL: 'info', NODE_OPTIONS: nodeOptions(way) },
          way === 'dist' ? distEntry : TRELLIS_BIN,
        );
      try {
        // Also fills tsx's compile cache, which every later source start finds, as in a developer's repository.
        for (const way of WAYS) await stopProcess((await start(way)).child);
        for (let i = 0; i < STARTS; i++) {
          // Alternating, and which way goes first too, so a busy second or a warmer file cache favours neither.
          for (const way of i % 2 === 0 ? WAYS : [...WAYS].reverse()) {
            const started = await start(way);
            try {
              times[way].push(started.ms);
              // Settled memory: what the process holds once started, not its start-up garbage.
              await new Promise((r) => setTimeout(r, 1000));
              sizes[way].push(await residentMb(started.child.pid ?? 0));
            } finally {
              await stopProcess(started.child);
            }
          }
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
      report(figure, server.name, { label: 'spawn → listening', unit: 'ms', digits: 0 }, times);
      report(figure, server.name, { label: 'resident memory 1 s after start', unit: 'MB', digits: 1 }, sizes);
    }
  },
};
