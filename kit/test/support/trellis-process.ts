// A `trellis <component>` command run as a real process for the fault tests: started, read, killed with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { keepOutput, own } from '../../src/owned-process.ts';

/** The trellis command of this checkout (it runs the TypeScript sources). */
export const TRELLIS_BIN = fileURLToPath(new URL('../../../cli/bin/trellis.js', import.meta.url));

export interface TrellisProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The URL its `listening` log line named, with 127.0.0.1 for `localhost` (the listener is on IPv4 loopback). */
  readonly url: string;
  /** The output lines so far (the last 2,000). */
  output(): string;
  /** SIGKILL, as a crash or the OOM killer would end it; resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export interface StartTrellisOptions {
  /** More variables for the process (its environment is otherwise this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * A command the trellis command runs under, which must `exec` it so the pid stays the server's: e.g.
   * `['unshare', '-m', 'sh', '-c', 'mount … && exec "$0" "$@"']`.
   */
  readonly wrapper?: readonly string[];
  /** Default 60 s (the sources are compiled on start, and the test machine is shared). */
  readonly timeoutMs?: number;
}

/**
 * Runs `trellis <args> --log-format json` and answers once it logs that it listens. The process dies with the test
 * process (a watchdog), so a failed test leaves no server behind.
 */
export async function startTrellis(
  args: readonly string[],
  options: StartTrellisOptions = {},
): Promise<TrellisProcess> {
  const command = [...(options.wrapper ?? []), process.execPath, TRELLIS_BIN, ...args, '--log-format', 'json'];
  const child = spawn(command[0] as string, command.slice(1), {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  let listening: ((url: string) => void) | undefined;
  keepOutput(
    child,
    tail,
    (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'listening' && entry.url !== undefined) listening?.(entry.url);
    },
    2000,
  );
  const stop = own(child);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const timeoutMs = options.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      listening = resolve;
      timer = setTimeout(() => reject(new Error(`did not listen within ${timeoutMs} ms`)), timeoutMs);
      child.once('exit', (code, signal) =>
        reject(new Error(`exited (${signal ?? `code ${code}`}) before it listened`)),
      );
      child.once('error', reject);
    });
    return {
      child,
      pid: child.pid ?? 0,
      url: url.replace('//localhost:', '//127.0.0.1:'),
      output: () => tail.join('\n'),
      async kill() {
        child.kill('SIGKILL');
        await exited;
        await stop();
      },
      stop: () => stop(10_000),
    };
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await stop();
    throw new Error(`trellis ${args[0] ?? ''}: ${(err as Error).message}: ${tail.slice(-10).join(' | ')}`);
  } finally {
    clearTimeout(timer);
  }
}
