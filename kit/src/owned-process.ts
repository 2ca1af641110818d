// A child process that is ours to end: it dies with this process, and stops with SIGTERM, then SIGKILL. Shared by
// the kit's launchers (the Kafka broker, Zipkin, the OpenTelemetry Collector) and the tests' Prometheus.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { StartupError } from './errors.ts';

/**
 * A process that kills `pid` when ours goes away without stopping it (a crash, a killed test worker): it waits on a
 * pipe from us, which the kernel closes when we die.
 */
export function watchdog(pid: number): ChildProcess {
  const guard = spawn('sh', ['-c', `read _; kill ${pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return guard;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Reads a child's stdout and stderr line by line to the end (a full pipe would block its logging), keeping the last
 * `keep` lines in `tail` for a start-up error and handing each to `log`.
 */
export function keepOutput(child: ChildProcess, tail: string[], log?: (line: string) => void, keep = 50): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (stream === null) continue;
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line);
      if (tail.length > keep) tail.shift();
      log?.(line);
    });
  }
}

export interface ReadyWait {
  /** Answers true once the process serves (a health URL says UP, a port accepts). */
  readonly probe: () => Promise<boolean>;
  readonly timeoutMs: number;
  readonly pollMs: number;
  /** What the process is, for the error: `the Zipkin server`. */
  readonly what: string;
  /** What it failed to do in time, for the error: `did not report UP on …/health`. */
  readonly notReady: string;
  /** The process's last output lines, quoted in the error. */
  readonly tail: readonly string[];
}

/** Resolves once `probe` answers true; rejects with a StartupError and the last output lines if it exits or is slow. */
export async function untilReady(child: ChildProcess, wait: ReadyWait): Promise<void> {
  let exit: string | undefined;
  child.once('error', (err) => (exit = err.message));
  child.once('exit', (code, signal) => (exit ??= `exited (${signal ?? `code ${code}`})`));
  const deadline = Date.now() + wait.timeoutMs;
  while (Date.now() < deadline) {
    if (exit !== undefined) break;
    if (await wait.probe()) return;
    await sleep(wait.pollMs);
  }
  const why = exit === undefined ? `${wait.notReady} within ${wait.timeoutMs} ms` : `${exit} before it was ready`;
  throw new StartupError(`${wait.what} ${why}: ${wait.tail.slice(-5).join(' | ')}`);
}

/**
 * Makes `child` ours: it dies with this process (see watchdog), and the function answered stops it (SIGTERM, then
 * SIGKILL after `graceMs`) and lets its watchdog go.
 */
export function own(child: ChildProcess): (graceMs?: number) => Promise<void> {
  const guard = child.pid === undefined ? undefined : watchdog(child.pid);
  return async (graceMs) => {
    guard?.kill('SIGKILL');
    await stopProcess(child, graceMs);
  };
}
