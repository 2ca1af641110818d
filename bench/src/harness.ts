// The bench's machinery: servers in their own processes, load from wrk (or autocannon), memory from /proc, medians.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { stopProcess } from '@trellis/kit';

export interface LoadResult {
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly connections?: number;
  readonly durationSec?: number;
  readonly method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Requests cycled through in order, to spread load over many paths. */
  readonly requests?: readonly LoadRequest[];
  /** Skip the 1 s warm-up (JIT, connection set-up) when the server was just driven with the same load. */
  readonly warm?: boolean;
}

export interface LoadRequest {
  readonly method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/**
 * Drives a URL with wrk (one thread, so the load generator takes at most one of the machine's cores and leaves the
 * other to the servers) after a short warm-up (JIT, connection set-up), and reports the measured run. wrk is C and
 * cheap per request; a Node load generator competes with the server under test for the same two cores and flattens
 * every ratio.
 */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const durationSec = options.durationSec ?? Number(process.env.BENCH_DURATION ?? '3');
  if (process.env.BENCH_LOADER === 'autocannon') return loadWithAutocannon(options, durationSec);
  const dir = await mkdtemp(join(tmpdir(), 'bench-wrk-'));
  try {
    const script = join(dir, 'load.lua');
    await writeFile(script, wrkScript(options));
    const args = ['-t1', `-c${options.connections ?? 50}`, '--latency', '-s', script, options.url];
    if (options.warm !== true) await wrk([...args.slice(0, -1), '-d1s', options.url]);
    return parseWrk(await wrk([...args.slice(0, -1), `-d${durationSec}s`, options.url]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The same load from autocannon (`BENCH_LOADER=autocannon`), the generator DESIGN.md first chose, to cross-check
 * what the load generator itself does to a figure. It runs in Node on the same two cores as the servers and keeps
 * every response body, so large bodies (the registry's 25 KB, the config server's 7 KB) measure autocannon.
 */
async function loadWithAutocannon(options: LoadOptions, durationSec: number): Promise<LoadResult> {
  const common = {
    url: options.url,
    connections: options.connections ?? 50,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    ...(options.requests === undefined ? {} : { requests: options.requests.map((r) => ({ ...r })) }),
  };
  if (options.warm !== true) await autocannon({ ...common, duration: 1 });
  const r = await autocannon({ ...common, duration: durationSec });
  return {
    requestsPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

const lua = (s: string): string => JSON.stringify(s);
const luaHeaders = (headers: Record<string, string> = {}): string =>
  `{${Object.entries(headers)
    .map(([k, v]) => `[${lua(k)}]=${lua(v)}`)
    .join(',')}}`;

/** A wrk script: one fixed request (prebuilt by wrk), or `requests` cycled through in order. */
function wrkScript(options: LoadOptions): string {
  if (options.requests === undefined) {
    return [
      `wrk.method = ${lua(options.method ?? 'GET')}`,
      ...Object.entries(options.headers ?? {}).map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
      options.body === undefined ? '' : `wrk.body = ${lua(options.body)}`,
    ].join('\n');
  }
  const formatted = options.requests.map(
    (r) =>
      `wrk.format(${lua(r.method ?? options.method ?? 'GET')}, ${lua(r.path)}, ${luaHeaders({ ...options.headers, ...r.headers })}${
        r.body === undefined ? '' : `, ${lua(r.body)}`
      })`,
  );
  return [
    'local requests, i = {}, 0',
    'init = function()',
    ...formatted.map((f) => `  requests[#requests + 1] = ${f}`),
    'end',
    'request = function() i = i % #requests + 1; return requests[i] end',
  ].join('\n');
}

function wrk(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new Error('bench: wrk is not installed (Debian: apt-get install wrk)'));
      } else if (error !== null) {
        reject(new Error(`bench: wrk failed: ${stderr || error.message}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function latencyMs(output: string, percent: number): number {
  const m = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(output);
  return m === null ? Number.NaN : Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
}

/** Reads wrk's summary: requests/s, the latency distribution, socket errors and non-2xx/3xx answers. */
export function parseWrk(output: string): LoadResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  if (rps === null) throw new Error(`bench: unexpected wrk output:\n${output}`);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = socket === null ? 0 : socket.slice(1).reduce((sum, n) => sum + Number(n), 0);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: latencyMs(output, 50),
    p99Ms: latencyMs(output, 99),
    errors,
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
  };
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a server script of bench/src/servers in its own process, so the load generator and the server do not share
 * an event loop. The script prints `ready <url>` when it listens; its output (logs included) goes to a file under
 * bench/results/, as a deployed service's logs would go to a file or a collector, not to the load generator.
 */
export async function startServer(
  script: string,
  args: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ServerProcess> {
  const file = fileURLToPath(new URL(`./servers/${script}`, import.meta.url));
  const logDir = fileURLToPath(new URL('../results/', import.meta.url));
  await mkdir(logDir, { recursive: true });
  const logFile = `${logDir}${script.replace(/\W+/g, '-')}.log`;
  const out = openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    stdio: ['ignore', out, 'inherit'],
    env: { ...process.env, ...env },
  });
  closeSync(out);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const deadline = Date.now() + 20_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const m = /ready (\S+)/.exec(await readFile(logFile, 'utf8'));
    if (m?.[1] !== undefined) {
      const url = m[1];
      return {
        url,
        pid: child.pid ?? 0,
        stop: () => stopProcess(child),
      };
    }
    if (exited !== undefined) throw new Error(`${script} exited with ${exited} before it was ready (see ${logFile})`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} was not ready within 20 s (see ${logFile})`);
    }
  }
}

// Stops a process with SIGTERM, as an orchestrator would (SIGKILL after 15 s), and waits until it has exited.
export { stopProcess };

/** The trellis command, as `npm start` and the docker image run it. */
export const TRELLIS_BIN = fileURLToPath(new URL('../../cli/bin/trellis.js', import.meta.url));
/** The shipped config repository, the config server's native backend. */
export const CONFIG_REPO = fileURLToPath(new URL('../../config-repo', import.meta.url));
/** The key config-repo's `{cipher}` values were made with (examples' DEV_ENCRYPT_KEY). */
export const DEV_ENCRYPT_KEY = 'trellis-dev-only-encrypt-key';
/** The start-up summary trellis prints once the component listens: "  name  http://host:port". */
const TRELLIS_LISTENING = /^ {2}\S+ +(http:\/\/\S+)/m;

export interface TrellisProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Spawn → the start-up summary on its output. */
  readonly ms: number;
}

/**
 * Runs `trellis <args>` (JSON logs; `bin` another entry of the command) and answers once its start-up summary names
 * its URL, with how long that took.
 * The time is taken when the summary's chunk arrives, not on a polling tick, so start-up times are not rounded up.
 */
export function startTrellis(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  bin: string = TRELLIS_BIN,
): Promise<TrellisProcess> {
  const began = performance.now();
  const child = spawn(process.execPath, [bin, ...args, '--log-format', 'json'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let settled = false;
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      // The summary can carry development credentials (the auth server's seeded clients); the JSON log lines are
      // redacted, so only they and stderr go into the error.
      const logs = out.split('\n').filter((l) => l.startsWith('{'));
      reject(new Error(`bench: trellis ${args[0]} ${why}:\n${[...logs, err].join('\n').slice(-2000)}`));
    };
    const timer = setTimeout(() => fail('did not start within 30 s'), 30_000);
    // Read to the end even once started: a pipe nobody drains would block the process when it fills.
    child.stdout.on('data', (chunk: Buffer) => {
      if (settled) return;
      out += chunk.toString('utf8');
      const url = TRELLIS_LISTENING.exec(out)?.[1];
      if (url === undefined) return;
      settled = true;
      clearTimeout(timer);
      resolve({ child, url, ms: performance.now() - began });
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (!settled) err += chunk.toString('utf8');
    });
    child.once('exit', (code, signal) => fail(`exited (${signal ?? code}) before it listened`));
    child.once('error', (e) => fail(e.message));
  });
}

/** Resident memory of a process in MB, read from /proc (Linux). */
export async function residentMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
  return kb / 1024;
}

/** The middle value (the mean of the two middle ones for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
