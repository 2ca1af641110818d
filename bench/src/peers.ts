// The Spring servers `npm run bench peers` races Trellis against: each built once with Maven from bench/peers/<name>
// (the Eureka server from interop/eureka-server, which the interop tests peer with Trellis),
// run with `java -jar` on a free loopback port, timed from spawn to its first 200, and warmed until it stops improving.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, own } from '@trellis/kit';
import { load, type LoadOptions, type LoadResult } from './harness.ts';

/** The Maven projects under bench/peers/, one Spring server each. */
export type PeerName = 'eureka-server' | 'config-server' | 'authorization-server' | 'gateway';

const PEERS_DIR = fileURLToPath(new URL('../peers/', import.meta.url));
/** Projects kept outside bench/peers/, with the jar their pom names: the Eureka server is the interop tests' too. */
const ELSEWHERE: Partial<Record<PeerName, { dir: string; jar: string }>> = {
  'eureka-server': {
    dir: fileURLToPath(new URL('../../interop/eureka-server/', import.meta.url)),
    jar: 'eureka-server.jar',
  },
};
const LOG_DIR = fileURLToPath(new URL('../results/', import.meta.url));
/** Built jars, named after a hash of their pom and sources, so an edit rebuilds and nothing else does. */
const CACHE_DIR = join(homedir(), '.cache', 'trellis', 'bench-peers');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** sha256 over the pom and everything under src/, with the paths, so a renamed file counts as a change too. */
async function sourceHash(project: string): Promise<string> {
  const hash = createHash('sha256');
  for (const file of [join(project, 'pom.xml'), ...(await filesUnder(join(project, 'src')))]) {
    hash
      .update(relative(project, file))
      .update('\0')
      .update(await readFile(file))
      .update('\0');
  }
  return hash.digest('hex').slice(0, 12);
}

/**
 * The peer's executable jar: `mvn -B -q package -DskipTests` the first time (Maven Central, or ~/.m2), then the copy
 * cached under ~/.cache/trellis/bench-peers for as long as the pom and sources stay the same.
 */
export async function buildPeer(name: PeerName): Promise<string> {
  const project = ELSEWHERE[name]?.dir ?? join(PEERS_DIR, name);
  const where = relative(fileURLToPath(new URL('../../', import.meta.url)), project);
  const jar = join(CACHE_DIR, `${name}-${await sourceHash(project)}.jar`);
  if (existsSync(jar)) return jar;
  process.stderr.write(`bench: building ${where} with Maven…\n`);
  try {
    await promisify(execFile)('mvn', ['-B', '-q', 'package', '-DskipTests'], {
      cwd: project,
      timeout: 900_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error('bench: the peers scenario needs Maven (apt-get install maven) and a JDK');
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-10).join('\n');
    throw new Error(`bench: mvn package failed in ${where}:\n${output || e.message}`, { cause: err });
  }
  await mkdir(CACHE_DIR, { recursive: true });
  // Copied under a temporary name and renamed, so a run interrupted mid-copy never leaves a truncated jar behind.
  const staging = `${jar}.${process.pid}.tmp`;
  await copyFile(join(project, 'target', ELSEWHERE[name]?.jar ?? `bench-${name}.jar`), staging);
  await rename(staging, jar);
  return jar;
}

/** The JDK's version line (`openjdk version "17.0.15" …`), for the report. */
export async function javaVersion(): Promise<string> {
  const { stderr } = await promisify(execFile)('java', ['-version']);
  return stderr.split('\n')[0]?.trim() ?? 'unknown';
}

export interface Probe {
  /** The path whose first 200 says the server serves (the path the bench then loads). */
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** GET unless set (the token endpoint's probe is its POST). */
  readonly method?: string;
  readonly body?: string;
}

/**
 * Resolves, with the time since `began`, once `url + probe.path` answers 200: start-up as a client sees it, not as
 * the server's own log reports it. Polls every 10 ms (a refused connection answers at once on loopback).
 */
export async function firstOk(
  url: string,
  probe: Probe,
  began: number,
  child: ChildProcess,
  timeoutMs = 120_000,
): Promise<number> {
  const deadline = began + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`bench: ${url} exited (${child.signalCode ?? child.exitCode}) before its first 200`);
    }
    const ok = await fetch(`${url}${probe.path}`, {
      method: probe.method,
      headers: probe.headers,
      body: probe.body,
    }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status === 200;
      },
      () => false,
    );
    if (ok) return performance.now() - began;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`bench: ${url}${probe.path} did not answer 200 within ${timeoutMs} ms`);
}

export interface PeerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Spawn → the first 200 on the probe's path. */
  readonly ms: number;
  stop(): Promise<void>;
}

/**
 * Starts the peer's jar with the JVM's defaults (no heap or JIT flags: the server as its users would start it) on a
 * free 127.0.0.1 port, `args` as Spring properties (`--name=value`), `env` added to ours (Spring binds ENCRYPT_KEY to
 * encrypt.key, which keeps a key out of the command line). Its output goes to bench/results/peer-<name>.log.
 */
export async function startPeer(
  name: PeerName,
  jar: string,
  { args, env = {}, probe }: { args: readonly string[]; env?: NodeJS.ProcessEnv; probe: Probe },
): Promise<PeerProcess> {
  const port = await freePort();
  await mkdir(LOG_DIR, { recursive: true });
  const out = openSync(join(LOG_DIR, `peer-${name}.log`), 'w');
  const began = performance.now();
  const child = spawn('java', ['-jar', jar, `--server.port=${port}`, '--server.address=127.0.0.1', ...args], {
    stdio: ['ignore', out, out],
    env: { ...process.env, ...env },
  });
  closeSync(out);
  // The JVM dies with the bench, should a run crash before it stops it.
  const stop = own(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    const ms = await firstOk(url, probe, began, child);
    return { child, url, ms, stop: () => stop() };
  } catch (err) {
    await stop(0);
    throw err;
  }
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux; clock ticks of 10 ms). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export interface Measured extends LoadResult {
  /** Server CPU per request, µs. */
  readonly cpuUsPerRequest: number;
}

/** One wrk load (already warm), with the server's CPU time per request over it. */
export async function measure(pid: number, options: LoadOptions, durationSec?: number): Promise<Measured> {
  const before = await cpuMs(pid);
  const result = await load({ ...options, warm: true, durationSec });
  const seconds = durationSec ?? Number(process.env.BENCH_DURATION ?? '3');
  const cpu = (await cpuMs(pid)) - before;
  return { ...result, cpuUsPerRequest: (cpu * 1000) / (result.requestsPerSec * seconds) };
}

/** Warm-up bursts: 5 s each, until two in a row are within 3 % of each other, at most 12 (a minute). */
export const WARM_UP = { burstSec: 5, settled: 0.03, maxBursts: 12 } as const;

export interface WarmTarget {
  readonly label: string;
  readonly load: LoadOptions;
}

/**
 * Drives each target with the workload it is about to be measured on until its throughput stops improving
 * (`WARM_UP`), the targets taking turns burst by burst so each one's warm-up sees the same machine. A JVM compiles its
 * hot paths over tens of seconds; V8 sooner, but the same rule is applied to both. Answers the bursts each one took.
 */
export async function warmUp(targets: readonly WarmTarget[]): Promise<number[]> {
  const last = targets.map((): number | undefined => undefined);
  const bursts = targets.map(() => 0);
  const settled = targets.map(() => false);
  while (settled.some((s, i) => !s && (bursts[i] ?? 0) < WARM_UP.maxBursts)) {
    for (const [i, target] of targets.entries()) {
      if (settled[i] === true || (bursts[i] ?? 0) >= WARM_UP.maxBursts) continue;
      const { requestsPerSec } = await load({ ...target.load, warm: true, durationSec: WARM_UP.burstSec });
      const previous = last[i];
      settled[i] =
        previous !== undefined && Math.abs(requestsPerSec - previous) / Math.max(previous, 1) < WARM_UP.settled;
      last[i] = requestsPerSec;
      bursts[i] = (bursts[i] ?? 0) + 1;
      process.stderr.write(`bench: warm-up ${target.label}: ${Math.round(requestsPerSec)} req/s\n`);
    }
  }
  return bursts;
}
