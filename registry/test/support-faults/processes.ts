// Real `trellis registry` processes for the fault-injection tests (started by the kit's spawnTrellis), killed with
// SIGKILL, restarted on the same data directory and port, optionally inside a network namespace of their own; and the
// Eureka requests the tests make of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnTrellis, type StartingTrellis } from '../../../kit/test/support/trellis-process.ts';
import { jsClientBody } from '../helpers.ts';

export interface RegistryProcessOptions {
  /** The port it listens on, the same across restarts so its peers and clients find it again. */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  readonly dataDir: string;
  /** Other nodes' /eureka URLs (the same list may be given to every node: a node skips itself). */
  readonly peers?: readonly string[];
  /**
   * Runs the registry through this command (`unshare -n …`) instead of directly; it must end by exec-ing the
   * arguments after it, so the process id is the registry's and SIGKILL reaches it. Its stdin is a pipe the test may
   * write a go-ahead to.
   */
  readonly wrapper?: readonly string[];
}

export interface RegistryProcess extends StartingTrellis {
  /** http://host:port, where /eureka and /actuator are. */
  readonly base: string;
}

const running = new Set<RegistryProcess>();

/** Starts `trellis registry` with JSON logs (every line kept: tests count retries in them); collected by {@link killAll}. */
export function startRegistryProcess(options: RegistryProcessOptions): RegistryProcess {
  const started = spawnTrellis(
    [
      'registry',
      '--port',
      String(options.port),
      '--host',
      options.host,
      '--data-dir',
      options.dataDir,
      '--peer-sync-timeout-ms',
      '3000',
      ...(options.peers === undefined || options.peers.length === 0 ? [] : ['--peers', options.peers.join(',')]),
    ],
    {
      ...(options.wrapper === undefined ? {} : { wrapper: options.wrapper }),
      stdin: 'pipe',
      keepLines: Infinity,
    },
  );
  const proc: RegistryProcess = {
    ...started,
    base: `http://${options.host}:${options.port}`,
    kill: async () => {
      await started.kill();
      running.delete(proc);
    },
  };
  running.add(proc);
  return proc;
}

/** SIGKILLs every registry process still running (afterEach/afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

/** Temporary data directories named `<prefix>…`, removed together by `remove()` (afterAll). */
export function dataDirs(prefix: string): { readonly make: () => string; readonly remove: () => void } {
  const dirs: string[] = [];
  return {
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    remove: () => {
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** An instance as a client registers it (Eureka JSON, its own instanceId) and the path it is registered under. */
export function instanceBody(app: string, id: string): string {
  return JSON.stringify(
    jsClientBody({
      app,
      instanceId: id,
      hostName: `${id}.faults.local`,
      vipAddress: app.toLowerCase(),
      leaseInfo: { durationInSecs: 90, renewalIntervalInSecs: 30 },
    }),
  );
}

/** The status of one request, or undefined when no answer came (refused, reset, timed out). */
async function statusOf(url: string, init: RequestInit, timeoutMs: number): Promise<number | undefined> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

/** POST /eureka/apps/{app}: resolves with the status, or undefined when no answer came (refused, reset, timed out). */
export function registerOnce(base: string, app: string, id: string, timeoutMs = 10_000): Promise<number | undefined> {
  return statusOf(
    `${base}/eureka/apps/${app}`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: instanceBody(app, id) },
    timeoutMs,
  );
}

/** PUT /eureka/apps/{app}/{id} (a heartbeat): the status, or undefined when no answer came. */
export function renewOnce(base: string, app: string, id: string, timeoutMs = 10_000): Promise<number | undefined> {
  return statusOf(`${base}/eureka/apps/${app}/${encodeURIComponent(id)}`, { method: 'PUT' }, timeoutMs);
}

/** Every instance id GET /eureka/apps lists, duplicates kept (so a test can count them), in the order listed. */
export async function listedInstanceIds(base: string, timeoutMs = 10_000): Promise<string[]> {
  const res = await fetch(`${base}/eureka/apps`, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) throw new Error(`GET ${base}/eureka/apps answered ${res.status}`);
  const doc = (await res.json()) as { applications: { application: { instance: { instanceId: string }[] }[] } };
  return doc.applications.application.flatMap((a) => a.instance.map((i) => i.instanceId));
}

/** The ids listed more than once. */
export function duplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const id of ids) (seen.has(id) ? twice : seen).add(id);
  return [...twice];
}

/** Polls `check` until it holds; the time it took, or an error naming `what` after `timeoutMs`. */
export async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    let ok = false;
    try {
      ok = await check();
    } catch {
      ok = false; // a node still starting or unreachable for a moment
    }
    if (ok) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(100);
  }
}

/**
 * Runs `work` over `items` with at most `concurrency` at a time; stops taking new items once `stop()` says so.
 * @example await pool(ids, 50, (id) => registerOnce(base, 'APP', id), () => killed);
 */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stop()) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
