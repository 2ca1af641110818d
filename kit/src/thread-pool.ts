// The libuv thread pool's scheduling priority: its jobs (signatures, hashes, file I/O) yield to the event loop.
import { randomFill } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { setPriority } from 'node:os';

/** The nice value the pool's threads get: enough for the event loop to win a contended core, see below. */
export const THREAD_POOL_NICE = 5;

/** How libuv names its pool threads (libuv 1.45+, Node 22+); older ones are unnamed and left alone. */
const POOL_THREAD_NAME = 'libuv-worker';

/**
 * Lowers the priority of this process's libuv pool threads to `nice`, leaving the main thread as it is; answers how
 * many threads it changed (0 where there is no /proc or the threads are unnamed).
 *
 * Why: a server that hands CPU-heavy work to the pool (signatures, password hashes) has more runnable threads than
 * cores under load, and the kernel shares a core evenly between threads. The event loop then waits its turn behind
 * the pool threads, and the requests it has not parsed yet cannot feed them: on two cores the auth server's event
 * loop was on a core for only about half of each token's wall time, and the process used 1.4 of the 2 cores
 * (bench/README.md, "Issuance"). With the pool threads at a lower priority the event loop takes a contended core
 * first, and the pool still has every cycle the loop leaves. Linux keeps the nice value per thread; raising it needs
 * no privilege.
 */
export async function lowerThreadPoolPriority(nice = THREAD_POOL_NICE): Promise<number> {
  // The pool starts all its threads on its first job.
  await new Promise((resolve) => randomFill(Buffer.alloc(1), resolve));
  let tasks: string[];
  try {
    tasks = await readdir('/proc/self/task');
  } catch {
    return 0;
  }
  let lowered = 0;
  for (const tid of tasks) {
    const name = await readFile(`/proc/self/task/${tid}/comm`, 'utf8').catch(() => '');
    if (name.trim() !== POOL_THREAD_NAME) continue;
    try {
      // setpriority(PRIO_PROCESS, tid): on Linux the one thread.
      setPriority(Number(tid), nice);
      lowered++;
    } catch {
      // Gone or not ours to change: the pool keeps its priority, which only costs throughput.
    }
  }
  return lowered;
}
