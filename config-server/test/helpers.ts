import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createLogger, loadSettings, type Logger, type Running, type KitEnv } from '@trellis/kit';
import type { Hono } from 'hono';
import { createApp, type AppDeps } from '../src/app.ts';
import { createNativeBackend } from '../src/backends/native.ts';
import { configServerComponent } from '../src/main.ts';
import type { EnvironmentBackend } from '../src/backends/types.ts';

export const silentLogger = (): Logger => createLogger({ name: 'test', level: 'silent' });

// The git identity and defaults come from here, never from the machine's own git configuration.
export const GIT_ENV = {
  PATH: process.env.PATH,
  HOME: tmpdir(),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@example.org',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@example.org',
};

/** git in `cwd` with {@link GIT_ENV}: `gitIn(dir)('rev-parse', 'HEAD')` returns the trimmed output. */
export function gitIn(cwd: string): (...args: string[]) => string {
  return (...args) => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();
}

/** A temporary config repository: `files` maps relative paths to contents. */
export function tempRepo(files: Record<string, string>): {
  root: string;
  write(rel: string, text: string): void;
  remove(): void;
} {
  const root = mkdtempSync(join(tmpdir(), 'config-repo-'));
  const write = (rel: string, text: string): void => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  return { root, write, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export interface TestServer {
  readonly app: Hono<KitEnv>;
  readonly backend: EnvironmentBackend;
  readonly root: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  json<T = Record<string, unknown>>(path: string, headers?: Record<string, string>): Promise<T>;
}

export function testServer(root: string, deps: Omit<AppDeps, 'logger' | 'backend'> = {}): TestServer {
  const backend = createNativeBackend({ root, defaultLabel: 'main' });
  const app = createApp({ logger: silentLogger(), backend, ...deps });
  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
    Promise.resolve(app.request(path, { headers }));
  return {
    app,
    backend,
    root,
    get,
    async json<T>(path: string, headers: Record<string, string> = {}): Promise<T> {
      const res = await get(path, headers);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
  };
}

export interface EnvJson {
  name: string;
  profiles: string[];
  label: string | null;
  version: string | null;
  state: string | null;
  propertySources: { name: string; source: Record<string, unknown> }[];
}

export interface StartOptions {
  readonly repo: string;
  readonly dataDir: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** The settings' environment (CONFIG_*, ENCRYPT_*…), also handed to the component unless `componentEnv` is. */
  readonly env?: Record<string, string | undefined>;
  /** The component's process environment (what git children see), when it differs from `env`. */
  readonly componentEnv?: Record<string, string | undefined>;
  /** More flags; `--http` comes first unless `https` is true. */
  readonly argv?: readonly string[];
  readonly https?: boolean;
  readonly logger?: Logger;
}

/** Starts `trellis config-server` in this process on a free port, as the command would; answers it and its URL. */
export async function startConfigServer(options: StartOptions): Promise<{ running: Running; url: string }> {
  const env = options.env ?? {};
  const settings = loadSettings(configServerComponent.settings, {
    argv: [
      ...(options.https === true ? [] : ['--http']),
      '--port',
      String(options.port ?? 0),
      '--repo',
      options.repo,
      '--data-dir',
      options.dataDir,
      ...(options.argv ?? []),
    ],
    env,
  });
  const running = await configServerComponent.start(settings, {
    logger: options.logger ?? silentLogger(),
    env: options.componentEnv ?? env,
  });
  const url = running.endpoints[0]?.url;
  if (url === undefined) {
    await running.stop();
    throw new Error('the config server reported no endpoint');
  }
  return { running, url };
}

export interface WatchEvent {
  event: string;
  data: { version: string | null; changed?: string[] };
  at: number;
}

/** Reads SSE events from a stream into a queue that tests await. */
export function sseReader(body: ReadableStream<Uint8Array>) {
  const events: WatchEvent[] = [];
  const waiters: (() => void)[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    const reader = body.getReader();
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const json = /^data: (.*)$/m.exec(block)?.[1];
        if (event !== undefined && json !== undefined) {
          events.push({ event, data: JSON.parse(json) as WatchEvent['data'], at: performance.now() });
          waiters.splice(0).forEach((w) => w());
        }
      }
    }
  })();
  return {
    async next(timeoutMs = 2000): Promise<WatchEvent> {
      const deadline = Date.now() + timeoutMs;
      while (events.length === 0) {
        if (Date.now() > deadline) throw new Error('no event');
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return events.shift() as WatchEvent;
    },
    pending: () => events.length,
  };
}
