// Shared test set-up: a hand-driven clock, a silent logger, the app on a kit service with an in-memory store, and
// instance bodies as real clients send them.
import { Writable } from 'node:stream';
import { createLogger, createService, type Logger, type Service, type KitEnv } from '@trellis/kit';
import type { Hono } from 'hono';
import { createApp } from '../src/app.ts';
import type { AppDeps } from '../src/app.ts';
import { parseInstance } from '../src/eureka/index.ts';
import type { InstanceInfo } from '../src/eureka/index.ts';
import { Registry } from '../src/registry/registry.ts';
import type { RegistryOptions } from '../src/registry/registry.ts';
import { persistRegistry } from '../src/store/persistence.ts';
import type { Persistence } from '../src/store/persistence.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import type { RegistryStore } from '../src/store/store.ts';

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** A clock the test moves by hand. */
export class TestClock {
  now = T0;
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export function silentLogger(): Logger {
  return createLogger({
    name: 'test',
    level: 'silent',
    destination: new Writable({ write: (_chunk, _enc, done) => done() }),
  });
}

export interface TestApp {
  readonly app: Hono<KitEnv>;
  readonly service: Service;
  readonly registry: Registry;
  readonly store: RegistryStore;
  readonly persistence: Persistence;
  readonly clock: TestClock;
}

/** The registry app as main.ts mounts it, with ':memory:' SQLite, a silent logger and a hand-driven clock. */
export function testApp(
  options: Omit<AppDeps, 'registry'> & { registryOptions?: RegistryOptions; logger?: Logger } = {},
): TestApp {
  const clock = new TestClock();
  const logger = options.logger ?? silentLogger();
  const registry = new Registry({ clock: clock.read, ...options.registryOptions });
  const store = openSqliteStore(':memory:');
  const persistence = persistRegistry({ registry, store, log: logger });
  const service = createService({ name: 'registry', logger, git: false });
  service.app.route('/', createApp({ stopping: service.stopping, ...options, registry }));
  return { app: service.app, service, registry, store, persistence, clock };
}

/** What eureka-js-client POSTs: lower-case app, boolean @enabled, no instanceId and no leaseInfo. */
export function jsClientBody(overrides: Record<string, unknown> = {}): { instance: Record<string, unknown> } {
  return {
    instance: {
      app: 'jsapp',
      hostName: 'js-host',
      ipAddr: '10.0.0.7',
      port: { $: 3000, '@enabled': true },
      vipAddress: 'jsapp',
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      status: 'UP',
      ...overrides,
    },
  };
}

/** A valid instance in the model, for model tests. */
export function instance(
  app: string,
  id: string,
  overrides: Partial<Omit<InstanceInfo, 'leaseInfo'>> & {
    durationInSecs?: number;
    renewalIntervalInSecs?: number;
  } = {},
): InstanceInfo {
  const { durationInSecs, renewalIntervalInSecs, ...fields } = overrides;
  const body = JSON.stringify({
    instance: {
      instanceId: id,
      app,
      hostName: `${id}.local`,
      ipAddr: '10.0.0.1',
      port: { $: 8080, '@enabled': 'true' },
      vipAddress: app.toLowerCase(),
      secureVipAddress: app.toLowerCase(),
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: { durationInSecs: durationInSecs ?? 90, renewalIntervalInSecs: renewalIntervalInSecs ?? 30 },
      lastDirtyTimestamp: T0,
    },
  });
  const parsed = parseInstance(body, 'application/json', undefined, { now: T0 });
  if (!parsed.ok) throw new Error(parsed.error.message);
  return { ...parsed.value, ...fields };
}

export const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' } as const;

/** Registers through the API, as eureka-js-client would; returns the response. */
export function register(
  app: Hono<KitEnv>,
  body: unknown,
  path = '/eureka/apps/JSAPP',
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

interface AppsJson {
  applications: {
    versions__delta: string;
    apps__hashcode: string;
    application: { name: string; instance: Record<string, unknown>[] }[];
  };
}

/** GET /eureka/apps as JSON. */
export async function fetchApps(app: Hono<KitEnv>, path = '/eureka/apps'): Promise<AppsJson> {
  const res = await app.request(path, { headers: { accept: 'application/json' } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
  return (await res.json()) as AppsJson;
}

/** Instance ids listed by GET /eureka/apps, sorted. */
export async function listedIds(app: Hono<KitEnv>): Promise<string[]> {
  const apps = await fetchApps(app);
  return apps.applications.application.flatMap((a) => a.instance.map((i) => String(i['instanceId']))).sort();
}
