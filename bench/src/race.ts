// The peers scenario's machinery: Trellis and a peer running side by side, raced on one workload in paired rounds,
// their resident memory compared, and their starts timed on the same clock.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { own } from '@trellis/kit';
import { median, residentMb, startTrellis, stopProcess, type LoadOptions } from './harness.ts';
import { firstOk, measure, startPeer, warmUp, type Measured, type PeerName, type Probe } from './peers.ts';
import type { ScenarioContext } from './scenario.ts';

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '5');
/** Measured starts per server and side, after the load runs (so every start finds the files in the page cache). */
export const STARTS = 3;

const LOG_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface Running {
  readonly url: string;
  readonly pid: number;
  /** Spawn → the first 200 on its probe. */
  readonly ms: number;
  /** The process that does the work, when not `pid` (nginx's worker), for the CPU per request. */
  readonly cpuPid?: number;
  stop(): Promise<void>;
}

/** `trellis <args>`, timed from spawn to its first 200 on `probe` (the same clock the peer is timed with). */
export async function trellis(args: readonly string[], env: NodeJS.ProcessEnv, probe: Probe): Promise<Running> {
  const began = performance.now();
  const started = await startTrellis([...args, '--port', '0', '--host', '127.0.0.1'], { LOG_LEVEL: 'info', ...env });
  try {
    const ms = await firstOk(started.url, probe, began, started.child);
    return { url: started.url, pid: started.child.pid ?? 0, ms, stop: () => stopProcess(started.child) };
  } catch (err) {
    started.child.kill('SIGKILL');
    throw err;
  }
}

/** A Spring peer's jar (`startPeer`), as a Running. */
export async function spring(
  name: PeerName,
  jar: string,
  probe: Probe,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<Running> {
  const started = await startPeer(name, jar, { args, env, probe });
  return { url: started.url, pid: started.child.pid ?? 0, ms: started.ms, stop: () => started.stop() };
}

/**
 * Any other server (nginx, a Node proxy) that listens on the `url` it is told: spawned, owned so that it dies with
 * the bench, and timed from spawn to its first 200 on `probe`. Its output goes to bench/results/<log>.log.
 */
export async function command(
  log: string,
  file: string,
  args: readonly string[],
  url: string,
  probe: Probe,
): Promise<Running> {
  await mkdir(LOG_DIR, { recursive: true });
  const out = openSync(join(LOG_DIR, `${log}.log`), 'w');
  const began = performance.now();
  const child = spawn(file, args, { stdio: ['ignore', out, out] });
  closeSync(out);
  const stop = own(child);
  try {
    const ms = await firstOk(url, probe, began, child);
    return { url, pid: child.pid ?? 0, ms, stop: () => stop() };
  } catch (err) {
    await stop(0);
    throw err;
  }
}

/** A range of values for a note: `1.90–2.34`. */
export const range = (values: readonly number[], digits = 2): string =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/**
 * Paired measurements of two loads (each a server's CPU pid and its workload, both already warm), ROUNDS unless told,
 * the one that goes first alternating so neither always meets the busier second and drift between rounds cancels out.
 */
export async function pairedRounds(
  [aPid, aLoad]: readonly [number, LoadOptions],
  [bPid, bLoad]: readonly [number, LoadOptions],
  { rounds: count = ROUNDS, durationSec }: { rounds?: number; durationSec?: number } = {},
): Promise<[Measured, Measured][]> {
  const rounds: [Measured, Measured][] = [];
  for (let round = 0; round < count; round++) {
    if (round % 2 === 0) {
      const a = await measure(aPid, aLoad, durationSec);
      rounds.push([a, await measure(bPid, bLoad, durationSec)]);
    } else {
      const b = await measure(bPid, bLoad, durationSec);
      rounds.push([await measure(aPid, aLoad, durationSec), b]);
    }
  }
  return rounds;
}

/**
 * One workload on both servers: warmed until each stops improving, then ROUNDS paired rounds, the side that goes
 * first alternating so neither always meets the busier second. Reports each side's median and the median ratio.
 * `load` answers the workload for one side (the sides may need their own credentials).
 */
export async function race(
  figure: ScenarioContext['figure'],
  name: string,
  peerLabel: string,
  sides: { trellis: Running; peer: Running; load: (url: string, side: 'trellis' | 'peer') => LoadOptions },
  { target, note }: { target?: number; note?: string } = {},
): Promise<void> {
  const { trellis: t, peer: p } = sides;
  const tLoad = sides.load(t.url, 'trellis');
  const pLoad = sides.load(p.url, 'peer');
  const bursts = await warmUp([
    { label: `${name}, Trellis`, load: tLoad },
    { label: `${name}, ${peerLabel}`, load: pLoad },
  ]);
  const rounds = (await pairedRounds([t.cpuPid ?? t.pid, tLoad], [p.cpuPid ?? p.pid, pLoad])).map(([tm, pm]) => ({
    t: tm,
    p: pm,
  }));
  const side = (label: string, results: readonly Measured[], warm: number): void => {
    const failed = results.reduce((n, r) => n + r.errors + r.non2xx, 0);
    const rps = results.map((r) => r.requestsPerSec);
    figure(`${name}: ${label}`, median(rps), 'req/s', {
      note: [
        `${range(rps, 0)} req/s`,
        `p50 ${median(results.map((r) => r.p50Ms)).toFixed(1)} ms, p99 ${median(results.map((r) => r.p99Ms)).toFixed(1)} ms`,
        `server CPU ${Math.round(median(results.map((r) => r.cpuUsPerRequest)))} µs/request`,
        `${warm} warm-up bursts`,
        failed > 0 ? `${failed} FAILED requests` : '',
      ]
        .filter(Boolean)
        .join('; '),
    });
  };
  side(
    'Trellis',
    rounds.map((r) => r.t),
    bursts[0] ?? 0,
  );
  side(
    peerLabel,
    rounds.map((r) => r.p),
    bursts[1] ?? 0,
  );
  const ratios = rounds.map((r) => r.t.requestsPerSec / r.p.requestsPerSec);
  figure(`${name}: Trellis / ${peerLabel}`, median(ratios), 'ratio', {
    min: target,
    note: [`median of ${ratios.length} paired rounds, ${range(ratios)}`, note].filter(Boolean).join('; '),
  });
}

/** The child processes of `pid` (nginx's worker), from /proc (Linux). */
export async function childPids(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  return children.split(' ').filter(Boolean).map(Number);
}

/** Resident memory of a process and its children (nginx's master and worker), in MB. */
export async function treeResidentMb(pid: number): Promise<number> {
  let mb = await residentMb(pid);
  for (const child of await childPids(pid)) mb += await residentMb(child);
  return mb;
}

/**
 * Resident memory after the warm-up and the measured rounds, and the ratio the issue bounds at 0.5 for the Spring
 * peers (`bounded: false` for a reference). `trellisMb` when Trellis's was read earlier, after its own last load.
 */
export async function memory(
  figure: ScenarioContext['figure'],
  name: string,
  peerLabel: string,
  f: { trellis: Running; peer: Running },
  { bounded = true, trellisMb, note }: { bounded?: boolean; trellisMb?: number; note?: string } = {},
): Promise<void> {
  const t = trellisMb ?? (await residentMb(f.trellis.pid));
  const p = await treeResidentMb(f.peer.pid);
  if (trellisMb === undefined) figure(`${name} RSS after the load: Trellis`, t, 'MB');
  figure(`${name} RSS after the load: ${peerLabel}`, p, 'MB', { note });
  figure(`${name} RSS: Trellis / ${peerLabel}`, t / p, 'ratio', { max: bounded ? 0.5 : undefined });
}

export interface Contender {
  readonly label: string;
  start(): Promise<Running>;
  /** The start-up ratio's bound (the Spring peers'); none for a reference. */
  readonly max?: number;
  readonly note?: string;
}

/**
 * Start-up, spawn → first 200: STARTS starts of Trellis and of each contender, the order rotated every round so none
 * always goes first. Trellis's data directory should exist already (an unmeasured start made it), so every measured
 * start is a restart, as a deployed server's usually is.
 */
export async function startUps(
  figure: ScenarioContext['figure'],
  name: string,
  trellisStart: () => Promise<Running>,
  contenders: readonly Contender[],
): Promise<void> {
  const all = [{ label: 'Trellis', start: trellisStart }, ...contenders];
  const times = all.map((): number[] => []);
  for (let i = 0; i < STARTS; i++) {
    for (let j = 0; j < all.length; j++) {
      const k = (i + j) % all.length;
      const started = await all[k]?.start();
      if (started === undefined) continue;
      times[k]?.push(started.ms);
      await started.stop();
    }
  }
  const [trellisTimes = []] = times;
  figure(`${name} spawn → first 200: Trellis`, median(trellisTimes), 'ms', {
    note: `${STARTS} starts, ${range(trellisTimes, 0)} ms`,
  });
  for (const [i, contender] of contenders.entries()) {
    const own = times[i + 1] ?? [];
    figure(`${name} spawn → first 200: ${contender.label}`, median(own), 'ms', {
      note: [`${STARTS} starts, ${range(own, 0)} ms`, contender.note].filter(Boolean).join('; '),
    });
    const ratios = trellisTimes.map((t, r) => t / (own[r] ?? Number.NaN));
    figure(`${name} start-up: Trellis / ${contender.label}`, median(ratios), 'ratio', {
      max: contender.max,
      note: `median of ${STARTS} paired starts, ${range(ratios)}`,
    });
  }
}
