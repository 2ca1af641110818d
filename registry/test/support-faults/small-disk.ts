// A data directory on a disk that fills up: a small tmpfs mounted over it in a mount namespace of its own, held open
// by a sleeping process, so processes started in that namespace see the small disk and the machine never does (the
// mount goes with the namespace). Needs root, as CI has.
import { spawn, type ChildProcess } from 'node:child_process';

export interface SmallDisk {
  /** Runs a process in the namespace (its arguments follow); it execs them, so SIGKILL reaches the process. */
  readonly wrapper: readonly string[];
  /** Ends the namespace's holder. */
  release(): Promise<void>;
}

/**
 * Mounts a tmpfs of `size` (e.g. '384k') over `dir`, seen only from the returned wrapper's processes.
 * @example const disk = await smallDisk(dir, '384k'); startRegistryProcess({ dataDir: dir, wrapper: disk.wrapper, … });
 */
export async function smallDisk(dir: string, size: string): Promise<SmallDisk> {
  if (process.getuid?.() !== 0) {
    throw new Error('the full-disk test needs root (unshare -m, mount -t tmpfs); run it as root as CI does');
  }
  const holder: ChildProcess = spawn(
    'unshare',
    [
      '-m',
      '--propagation',
      'private',
      '--',
      'sh',
      '-c',
      `mount -t tmpfs -o size=${size} faults "$0" && echo mounted && exec sleep 600`,
      dir,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  holder.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (d: Buffer) => {
      output += d.toString('utf8');
      if (output.includes('mounted')) resolve();
    });
    void exited.then(() => reject(new Error(`could not mount a small disk on ${dir}: ${output}`)));
  });
  return {
    wrapper: ['nsenter', '-t', String(holder.pid), '-m', '--'],
    release: async () => {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL');
      await exited;
    },
  };
}
