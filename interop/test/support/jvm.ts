// What the interop tests share to build a Spring app with Maven and run it on the JVM: tool checks, the build, child
// processes killed however the worker ends, and polling that fails with the app's log.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll } from 'vitest';
export { freePort } from '../../../kit/src/free-port.ts';

/** Maven Central on the first run, ~/.m2 after: minutes cold, seconds warm. */
export const BUILD_TIMEOUT_MS = 15 * 60_000;
export const START_TIMEOUT_MS = 120_000;
const JDK = 'openjdk-17-jdk-headless (Spring Boot 3 needs a JDK >= 17)';

/** Fails (never skips) with the Debian package to install when a tool is missing; returns what it printed. */
export function requireTool(command: string, args: string[], debianPackage: string): string {
  const probe = spawnSync(command, args, { encoding: 'utf8', timeout: 60_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    const why = probe.error !== undefined ? 'is not on PATH' : `\`${command} ${args.join(' ')}\` failed`;
    throw new Error(`${command} is required for the Spring interop tests but ${why}; install ${debianPackage}`);
  }
  return `${probe.stdout}${probe.stderr}`;
}

/** A JDK >= 17 with keytool, and Maven. */
export function requireJdkAndMaven(): void {
  const javaVersion = /version "(\d+)/.exec(requireTool('java', ['-version'], JDK))?.[1];
  if (javaVersion === undefined || Number(javaVersion) < 17) {
    throw new Error(`java is ${javaVersion ?? 'unknown'}; install ${JDK}`);
  }
  requireTool('keytool', ['-help'], JDK);
  requireTool('mvn', ['-v'], 'maven');
}

/** Child processes this worker started; killed by killAll, and on exit should the worker die first. */
const children = new Set<ChildProcess>();
export const killAll = (): void => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
};
process.once('exit', killAll);

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function exited(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.exitCode ?? child.signalCode ?? '');
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? '')));
}

/** Runs a command to completion, output into `log`; rejects with the log's tail on failure or timeout. */
export async function run(
  command: string,
  args: string[],
  options: { cwd: string; log: string; timeoutMs: number },
): Promise<void> {
  const out = createWriteStream(options.log);
  const child = track(spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const code = await exited(child);
  clearTimeout(timer);
  await new Promise<void>((resolve) => out.end(resolve));
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} ended with ${code}:\n${tail(options.log)}`);
}

export function tail(file: string, lines = 80): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no output)';
  }
}

/**
 * `mvn package` of the Maven project in `project`, one build at a time: test files that run the same app in parallel
 * workers would otherwise write the same target/ together. The lock is a directory (mkdir is atomic); one older than
 * a build's timeout was left by a killed worker.
 */
export async function mavenPackage(project: string, log: string): Promise<void> {
  const lock = join(project, '.build-lock');
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const age = Date.now() - (statMtime(lock) ?? Date.now());
      if (age > BUILD_TIMEOUT_MS) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`another build of ${project} held ${lock} for too long`);
      await sleep(500);
    }
  }
  try {
    await run('mvn', ['-B', '-q', 'package', '-DskipTests'], { cwd: project, log, timeoutMs: BUILD_TIMEOUT_MS });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function statMtime(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
}

/** A JVM running a Spring app, with its log file. */
export interface JavaApp {
  readonly child: ChildProcess;
  readonly out: WriteStream;
  readonly log: string;
}

/**
 * Starts `java <args>` on a small heap, output into `log`, with `env` on top of this process's environment
 * (credentials go there, not on the command line that `ps` shows).
 */
export function startJava(options: {
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  log: string;
}): JavaApp {
  const out = createWriteStream(options.log);
  const child = track(
    spawn('java', ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...options.args], {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...options.env },
    }),
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return { child, out, log: options.log };
}

/** SIGTERM (Spring closes its context: bindings stop, offsets commit), SIGKILL after `graceMs`; closes the log. */
export async function stopJava(app: JavaApp | undefined, graceMs = 15_000): Promise<void> {
  if (app === undefined) return;
  if (app.child.exitCode === null && app.child.signalCode === null) {
    app.child.kill('SIGTERM');
    await Promise.race([exited(app.child), sleep(graceMs)]);
    if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
  }
  await new Promise<void>((resolve) => app.out.end(resolve));
}

/**
 * Polls until `probe` returns a value, or fails with what the last attempt saw and the app's log; fails at once when
 * the app exits meanwhile.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  options: { app?: JavaApp | undefined; timeoutMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const app = options.app;
  let last = 'nothing yet';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (app !== undefined && (app.child.exitCode !== null || app.child.signalCode !== null)) {
      throw new Error(`the Spring app exited while waiting for ${what}:\n${tail(app.log)}`);
    }
    await sleep(250);
  }
  const log = app === undefined ? '' : `; Spring app log:\n${tail(app.log)}`;
  throw new Error(`timed out waiting for ${what} (last: ${last})${log}`);
}

/** Waits for the app's /actuator/health to say UP (which, with a binder, means connected to its broker). */
export async function waitUntilUp(app: JavaApp, url: string): Promise<void> {
  await eventually(
    'the Spring app to report UP on /actuator/health',
    async () => {
      const res = await fetch(`${url}/actuator/health`);
      const body = (await res.json()) as { status?: string };
      if (res.status !== 200) throw new Error(`health ${res.status} ${JSON.stringify(body)}`);
      return body.status === 'UP' ? true : undefined;
    },
    { app, timeoutMs: START_TIMEOUT_MS },
  );
}

/** How a test file's set-up went: `failure` for its set-up test to rethrow, `started` for the other tests to call. */
export interface SetUpReport<T> {
  readonly failure: () => Error | undefined;
  /** What the set-up answered; throws, pointing at the set-up test, when it failed. */
  readonly started: () => T;
}

/**
 * Runs `setUp` before the file's tests so that a failure fails the run rather than leaving the tests skipped (vitest
 * skips them when beforeAll throws): the set-up test reports it, the others fail pointing there.
 */
export function setUpReported<T>(setUp: () => Promise<T>): SetUpReport<T> {
  let outcome: { ok: true; value: T } | { ok: false; error: Error } | undefined;
  beforeAll(
    async () => {
      try {
        outcome = { ok: true, value: await setUp() };
      } catch (err) {
        outcome = { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    },
    BUILD_TIMEOUT_MS + START_TIMEOUT_MS + 60_000,
  );
  return {
    failure: () => (outcome?.ok === false ? outcome.error : undefined),
    started: () => {
      if (outcome?.ok !== true) throw new Error("the Spring app did not start: see the set-up test's failure");
      return outcome.value;
    },
  };
}
