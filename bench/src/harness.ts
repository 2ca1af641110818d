import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

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
  /** Requests each connection cycles through (autocannon's `requests`), to spread load over many paths. */
  readonly requests?: readonly LoadRequest[];
}

export interface LoadRequest {
  readonly method?: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** Drives a URL with autocannon after a short warm-up (JIT, connection set-up) and reports the measured run. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const durationSec = options.durationSec ?? Number(process.env.BENCH_DURATION ?? '5');
  const common = {
    url: options.url,
    connections: options.connections ?? 50,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    ...(options.requests === undefined ? {} : { requests: options.requests.map((r) => ({ ...r })) }),
  };
  await autocannon({ ...common, duration: 1 });
  const r = await autocannon({ ...common, duration: durationSec });
  return {
    requestsPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
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
        stop: () =>
          new Promise((done) => {
            if (exited !== undefined) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      };
    }
    if (exited !== undefined) throw new Error(`${script} exited with ${exited} before it was ready (see ${logFile})`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} was not ready within 20 s (see ${logFile})`);
    }
  }
}

/** Resident memory of a process in MB, read from /proc (Linux). */
export async function residentMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
  return kb / 1024;
}
