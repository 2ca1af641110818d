// A `trellis <component>` command run as a real process for the tests: started, read, killed with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { keepOutput, own } from '../../src/owned-process.ts';

/** The trellis command of this checkout (it runs the TypeScript sources). */
export const TRELLIS_BIN = fileURLToPath(new URL('../../../cli/bin/trellis.js', import.meta.url));

export interface TrellisProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The URL its `listening` log line named, with 127.0.0.1 for `localhost` (the listener is on IPv4 loopback). */
  readonly url: string;
  /** The output lines so far (the last `keepLines`). */
  output(): string;
  /** The JSON log lines among them, parsed. */
  lines(): Record<string, unknown>[];
  /** Resident memory in KiB, from /proc/<pid>/status. */
  rssKiB(): Promise<number>;
  /** Open file descriptors (sockets among them), from /proc/<pid>/fd. */
  openFds(): Promise<number>;
  /** SIGKILL, as a crash or the OOM killer would end it; resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** A process {@link spawnTrellis} started, which may not listen yet. */
export interface StartingTrellis extends Omit<TrellisProcess, 'url'> {
  /**
   * Resolves once it logged that it listens; rejects (and kills it) when it exits first or is slower than
   * `timeoutMs`. A rejection nobody awaits (a process killed before it listened) is not reported.
   */
  readonly listening: Promise<TrellisProcess>;
}

export interface StartTrellisOptions {
  /** More variables for the process (its environment is otherwise this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * A command the trellis command runs under, which must `exec` it so the pid stays the server's: e.g.
   * `['unshare', '-m', 'sh', '-c', 'mount … && exec "$0" "$@"']`.
   */
  readonly wrapper?: readonly string[];
  /** 'pipe' for a wrapper that reads its go-ahead from stdin (`child.stdin.end('go\n')`); default 'ignore'. */
  readonly stdin?: 'pipe' | 'ignore';
  /** Default 60 s (the sources are compiled on start, and the test machine is shared). */
  readonly timeoutMs?: number;
  /**
   * For a process whose `--log-level` hides the `listening` line: it is up once GET of this URL (its health) answers
   * 2xx, and its `url` is this URL's origin.
   */
  readonly readyUrl?: string;
  /**
   * How many output lines `output()` and `lines()` keep, default 2,000; `Infinity` for a test that counts log lines
   * over the whole run.
   */
  readonly keepLines?: number;
}

/**
 * Runs `trellis <args> --log-format json` and answers at once, before it listens: for a test that must act on the
 * process (its pid, its stdin) while it starts. The process dies with the test process (a watchdog), so a failed test
 * leaves no server behind.
 */
export function spawnTrellis(args: readonly string[], options: StartTrellisOptions = {}): StartingTrellis {
  const command = [...(options.wrapper ?? []), process.execPath, TRELLIS_BIN, ...args, '--log-format', 'json'];
  const child = spawn(command[0] as string, command.slice(1), {
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const keep = options.keepLines ?? 2000;
  const tail: string[] = [];
  const entries: Record<string, unknown>[] = [];
  let listened: ((url: string) => void) | undefined;
  keepOutput(
    child,
    tail,
    (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as Record<string, unknown>;
      entries.push(entry);
      if (entries.length > keep) entries.shift();
      if (entry.msg === 'listening' && typeof entry.url === 'string') listened?.(entry.url);
    },
    keep,
  );
  const stop = own(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const pid = child.pid ?? 0;
  const handle: Omit<TrellisProcess, 'url'> = {
    child,
    pid,
    output: () => tail.join('\n'),
    lines: () => [...entries],
    async rssKiB() {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    },
    openFds: async () => (await readdir(`/proc/${pid}/fd`)).length,
    async kill() {
      child.kill('SIGKILL');
      await exited;
      await stop();
    },
    stop: () => stop(10_000),
  };
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let waiting = true;
  const listening = new Promise<string>((resolve, reject) => {
    listened = resolve;
    timer = setTimeout(() => reject(new Error(`did not listen within ${timeoutMs} ms`)), timeoutMs);
    if (options.readyUrl !== undefined) void poll(options.readyUrl, () => waiting).then(resolve);
    child.once('exit', (code, signal) => reject(new Error(`exited (${signal ?? `code ${code}`}) before it listened`)));
    child.once('error', reject);
  }).then(
    (url): TrellisProcess => ({ ...handle, url: url.replace('//localhost:', '//127.0.0.1:') }),
    async (err: unknown) => {
      await handle.kill();
      throw new Error(`trellis ${args[0] ?? ''}: ${(err as Error).message}: ${tail.slice(-10).join(' | ')}`);
    },
  );
  void listening
    .finally(() => {
      waiting = false;
      clearTimeout(timer);
    })
    .catch(() => undefined);
  return { ...handle, listening };
}

/** Resolves with the origin of `url` once GET `url` answers 2xx; gives up (never resolves) once `waiting()` is false. */
async function poll(url: string, waiting: () => boolean): Promise<string> {
  while (waiting()) {
    const up = await fetch(url, { signal: AbortSignal.timeout(5000) }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.ok;
      },
      () => false,
    );
    if (up) return new URL(url).origin;
    await sleep(100);
  }
  return new Promise<string>(() => undefined);
}

/** Runs `trellis <args> --log-format json` (see {@link spawnTrellis}) and answers once it logs that it listens. */
export async function startTrellis(
  args: readonly string[],
  options: StartTrellisOptions = {},
): Promise<TrellisProcess> {
  return spawnTrellis(args, options).listening;
}
