// A gateway started as the README starts it: the `trellis gateway` command in a process of its own, on a free port.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@trellis/kit';

const TRELLIS = fileURLToPath(new URL('../../cli/bin/trellis.js', import.meta.url));

/** The management credential the process is started with (`--admin-auth`). */
export const PROCESS_ADMIN = { user: 'admin', password: 'fuzz-admin-secret-0123' };
export const PROCESS_ADMIN_AUTHORIZATION = `Basic ${Buffer.from(`${PROCESS_ADMIN.user}:${PROCESS_ADMIN.password}`).toString('base64')}`;

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  readonly routesFile: string;
  /** Every JSON log line so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Resident memory in KiB, from /proc/<pid>/status. */
  rssKiB(): Promise<number>;
  /** Open file descriptors (sockets among them), from /proc/<pid>/fd. */
  openFds(): Promise<number>;
  /** SIGKILLs the process if it still runs and removes its data directory. */
  stop(): Promise<void>;
}

/**
 * Spawns `trellis gateway --port <free> --http-only --data-dir <temp> --routes-file <temp> --admin-auth …` plus
 * `argv`, with `env` added, and resolves once it listens.
 */
export async function spawnGateway(
  routesYaml: string,
  argv: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<GatewayProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gateway-process-'));
  const routesFile = join(dataDir, 'routes.yml');
  await writeFile(routesFile, routesYaml);
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      TRELLIS,
      'gateway',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--http-only',
      '--data-dir',
      dataDir,
      '--routes-file',
      routesFile,
      '--admin-auth',
      `basic:${PROCESS_ADMIN.user}:${PROCESS_ADMIN.password}`,
      '--log-format',
      'json',
      ...argv,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = once(child, 'exit');
  const lines = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const deadline = Date.now() + 30_000;
  while (!lines().some((l) => l.msg === 'listening')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
      throw new Error(`trellis gateway did not start:\n${out}\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid ?? 0;
  return {
    child,
    pid,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir,
    routesFile,
    lines,
    rssKiB: async () => {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    },
    openFds: async () => {
      const { readdir } = await import('node:fs/promises');
      return (await readdir(`/proc/${pid}/fd`)).length;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
