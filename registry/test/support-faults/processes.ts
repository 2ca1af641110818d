// Real `trellis registry` processes for the fault-injection tests: spawned from the CLI, killed with SIGKILL,
// restarted on the same data directory and port, optionally inside a network namespace of their own.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { jsClientBody } from '../helpers.ts';

const bin = fileURLToPath(new URL('../../../cli/bin/trellis.js', import.meta.url));

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
   * arguments after it, so the process id is the registry's and SIGKILL reaches it.
   */
  readonly wrapper?: readonly string[];
}

export interface RegistryProcess {
  readonly child: ChildProcess;
  /** http://host:port, where /eureka and /actuator are. */
  readonly base: string;
  /** Resolves once the registry logged that it listens (rejects when it exits first). */
  readonly listening: Promise<void>;
  readonly exited: Promise<void>;
  /** Its stdout and stderr so far (JSON log lines), for failure messages. */
  output(): string;
  /** SIGKILL: no shutdown hook runs, nothing is flushed. */
  kill9(): Promise<void>;
}

const running = new Set<RegistryProcess>();

/** Starts `trellis registry` with JSON logs; collected by {@link killAll}. */
export function startRegistryProcess(options: RegistryProcessOptions): RegistryProcess {
  const args = [
    bin,
    'registry',
    '--port',
    String(options.port),
    '--host',
    options.host,
    '--data-dir',
    options.dataDir,
    '--log-format',
    'json',
    '--peer-sync-timeout-ms',
    '3000',
    ...(options.peers === undefined || options.peers.length === 0 ? [] : ['--peers', options.peers.join(',')]),
  ];
  const [command, ...wrapperArgs] = options.wrapper ?? [process.execPath];
  const child = spawn(
    command ?? process.execPath,
    options.wrapper === undefined ? args : [...wrapperArgs, process.execPath, ...args],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
      // The test's own NODE_OPTIONS (the @trellis/source condition) run the registry from its sources.
      env: process.env,
    },
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const listening = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (/"msg":"listening"/.test(output)) resolve();
    };
    child.stdout?.on('data', check);
    void exited.then(() => reject(new Error(`registry on port ${options.port} exited before listening:\n${output}`)));
  });
  // Noted when nobody awaits it (a process killed before it listened).
  listening.catch(() => undefined);
  const proc: RegistryProcess = {
    child,
    base: `http://${options.host}:${options.port}`,
    listening,
    exited,
    output: () => output,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      running.delete(proc);
    },
  };
  running.add(proc);
  return proc;
}

/** SIGKILLs every registry process still running (afterEach/afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill9()));
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

/** POST /eureka/apps/{app}: resolves with the status, or undefined when no answer came (refused, reset, timed out). */
export async function registerOnce(
  base: string,
  app: string,
  id: string,
  timeoutMs = 10_000,
): Promise<number | undefined> {
  try {
    const res = await fetch(`${base}/eureka/apps/${app}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: instanceBody(app, id),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

/** PUT /eureka/apps/{app}/{id} (a heartbeat): the status, or undefined when no answer came. */
export async function renewOnce(
  base: string,
  app: string,
  id: string,
  timeoutMs = 10_000,
): Promise<number | undefined> {
  try {
    const res = await fetch(`${base}/eureka/apps/${app}/${encodeURIComponent(id)}`, {
      method: 'PUT',
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
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
