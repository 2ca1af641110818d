// A child process that is ours to end: it dies with this process, and stops with SIGTERM, then SIGKILL. Shared by
// the kit's launchers (the Kafka broker, Zipkin, the OpenTelemetry Collector) and the tests' Prometheus.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

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
