// The discovery SDK against the real Trellis registry (started in-process on port 0 with a temporary data
// directory): registration, heartbeats, cancel, a registry that starts late, the watch stream, and load-balanced
// calls between kit services that found each other through it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { registryComponent } from '../../../registry/src/index.ts';
import { createDiscoveryClient, type DiscoveryClient } from '../../src/discovery/client.ts';
import { createLoadBalancedHttp } from '../../src/discovery/http.ts';
import { registerService } from '../../src/discovery/register-service.ts';
import {
  createEurekaRegistration,
  type EurekaRegistration,
  type EurekaRegistrationOptions,
} from '../../src/discovery/registration.ts';
import { createService, type Service, loadSettings, createLogger } from '@trellis/kit';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { eventually, ManualClock, startScriptedServer } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const silent = createLogger({ name: 'registry', level: 'silent' });

/** A real registry on `port` (0: any free one); returns its Eureka service URL. */
async function startRegistry(port = 0, extra: string[] = []): Promise<{ eureka: string; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'trellis-discovery-'));
  const settings = loadSettings(registryComponent.settings, {
    argv: ['--port', String(port), '--data-dir', dataDir, '--log-level', 'silent', ...extra],
  });
  const running = await registryComponent.start(settings, { logger: silent, env: {} });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await running.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  cleanups.push(stop);
  const endpoint = running.endpoints[0];
  if (endpoint === undefined) throw new Error('registry has no endpoint');
  return { eureka: `${endpoint.url}/eureka/`, stop };
}

interface WireInstance {
  instanceId: string;
  status: string;
  port: { $: number };
  leaseInfo: { lastRenewalTimestamp: number };
}

/** GET /eureka/apps/{APP}/{ID}: the registry's live view of one instance (GET /apps is cached between changes). */
async function instanceOnRegistry(eureka: string, app: string, id: string): Promise<WireInstance | undefined> {
  const res = await request(`${eureka}apps/${app}/${id}`, { headers: { accept: 'application/json' } });
  if (res.statusCode === 404) {
    await res.body.dump();
    return undefined;
  }
  return ((await res.body.json()) as { instance: WireInstance }).instance;
}

/** GET /eureka/apps as curl would see it: every instance, by id. */
async function appsOnRegistry(eureka: string): Promise<Map<string, WireInstance>> {
  const res = await request(`${eureka}apps`, { headers: { accept: 'application/json' } });
  const body = (await res.body.json()) as { applications: { application?: { instance: WireInstance[] }[] } };
  return new Map(
    (body.applications.application ?? []).flatMap((a) => a.instance.map((i) => [i.instanceId, i] as const)),
  );
}

function registration(
  options: Partial<EurekaRegistrationOptions> & Pick<EurekaRegistrationOptions, 'registryUrl'>,
): EurekaRegistration {
  const r = createEurekaRegistration({
    app: 'review',
    port: 7003,
    hostName: '127.0.0.1',
    ipAddr: '127.0.0.1',
    logger: captureLogger().logger,
    ...options,
  });
  cleanups.push(() => r.stop());
  return r;
}

function discovery(eureka: string): DiscoveryClient {
  const client = createDiscoveryClient({ registryUrl: eureka, logger: captureLogger().logger });
  cleanups.push(() => client.stop());
  return client;
}

/** A kit service that answers GET /review with its own port. */
async function reviewService(): Promise<Service> {
  // Its discovery health is a detail.
  const service = createService({ name: 'review', logger: silent, git: false, healthShowDetails: 'always' });
  service.app.get('/review', (c) => c.json({ port: service.endpoints[0]?.port }));
  await service.listen({ port: 0 });
  cleanups.push(() => service.stop());
  return service;
}

describe('registration against the registry', () => {
  it('registers a kit service, which the registry lists as UP with its real port, and reports discovery health', async () => {
    const { eureka } = await startRegistry();
    const service = await reviewService();
    const reg = registerService(service, { registryUrl: eureka, hostName: '127.0.0.1', ipAddr: '127.0.0.1' });
    await reg.whenSynced();
    const listed = (await appsOnRegistry(eureka)).get(reg.instanceId);
    expect(listed?.status).toBe('UP');
    expect(listed?.port.$).toBe(service.endpoints[0]?.port);
    const health = await request(`${service.endpoints[0]?.url}/actuator/health/discovery`);
    expect(health.statusCode).toBe(200);
    expect(await health.body.json()).toMatchObject({
      status: 'UP',
      details: { registration: { state: 'registered', status: 'UP', instanceId: reg.instanceId, registry: eureka } },
    });
  });

  it('renews the lease with a heartbeat each renewal interval', async () => {
    const { eureka } = await startRegistry();
    const clock = new ManualClock();
    const reg = registration({ registryUrl: eureka, clock, initialStatus: 'UP' });
    reg.start();
    await reg.whenSynced();
    const before = (await instanceOnRegistry(eureka, reg.app, reg.instanceId))?.leaseInfo.lastRenewalTimestamp ?? 0;
    expect(before).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 10));
    expect(await clock.fireNext()).toBe(30_000);
    await eventually(() => reg.snapshot().lastRenewal === clock.now(), 3000, 'heartbeat answered');
    const after = (await instanceOnRegistry(eureka, reg.app, reg.instanceId))?.leaseInfo.lastRenewalTimestamp ?? 0;
    expect(after).toBeGreaterThan(before);
    expect(reg.snapshot().state).toBe('registered');
  });

  it('re-registers when the registry forgot the instance (heartbeat 404)', async () => {
    const first = await startRegistry();
    const port = Number(new URL(first.eureka).port);
    const clock = new ManualClock();
    const reg = registration({ registryUrl: first.eureka, clock, initialStatus: 'UP' });
    reg.start();
    await reg.whenSynced();
    // A new registry on the same port with an empty data directory: it has never heard of the instance.
    await first.stop();
    const second = await startRegistry(port);
    expect((await appsOnRegistry(second.eureka)).has(reg.instanceId)).toBe(false);
    await clock.fireNext();
    await eventually(() => reg.snapshot().lastRenewal === clock.now(), 3000, 're-registered');
    expect((await appsOnRegistry(second.eureka)).get(reg.instanceId)?.status).toBe('UP');
  });

  it('cancels when the service stops, so the registry no longer lists it', async () => {
    const { eureka } = await startRegistry();
    const service = await reviewService();
    const reg = registerService(service, { registryUrl: eureka, hostName: '127.0.0.1', ipAddr: '127.0.0.1' });
    await reg.whenSynced();
    expect((await appsOnRegistry(eureka)).has(reg.instanceId)).toBe(true);
    await service.stop();
    expect((await appsOnRegistry(eureka)).has(reg.instanceId)).toBe(false);
    expect(reg.snapshot().state).toBe('stopped');
  });

  it('keeps trying while the registry is not up yet, then registers once it starts', async () => {
    const probe = await startScriptedServer(() => undefined);
    await probe.close();
    const eureka = `http://127.0.0.1:${probe.port}/eureka/`;
    const { logger, lines } = captureLogger();
    const reg = registration({
      registryUrl: eureka,
      logger,
      initialStatus: 'UP',
      retry: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    reg.start();
    await eventually(() => reg.snapshot().failures >= 3, 3000, 'three failed attempts');
    expect(reg.snapshot().state).toBe('unreachable');
    await startRegistry(probe.port);
    await reg.whenSynced();
    expect((await appsOnRegistry(eureka)).get(reg.instanceId)?.status).toBe('UP');
    const messages = lines.map((l) => l['msg']);
    expect(messages.filter((m) => m === 'registry unreachable; retrying with backoff')).toHaveLength(1);
    expect(messages.filter((m) => m === 'registered with the registry')).toHaveLength(1);
  });

  it('sends the credentials a protected registry asks for, and reports the refusal without them', async () => {
    const { eureka } = await startRegistry(0, ['--write-auth', 'bearer:registry-token']);
    const refused = registration({ registryUrl: eureka, app: 'anonymous', retry: { initialDelayMs: 60_000 } });
    refused.start();
    await eventually(() => refused.snapshot().state === 'rejected', 3000, 'refusal');
    expect(refused.snapshot().lastError).toMatch(/^HTTP 401 on register/);
    const allowed = registration({
      registryUrl: eureka,
      credentials: { token: 'registry-token' },
      initialStatus: 'UP',
    });
    allowed.start();
    await allowed.whenSynced();
    const listed = await appsOnRegistry(eureka);
    expect(listed.has(allowed.instanceId)).toBe(true);
    expect(listed.has(refused.instanceId)).toBe(false);
  });
});

describe('discovery against the registry', () => {
  it('still finds instances when the registry is at its cap of watch streams (503), by polling', async () => {
    const { eureka } = await startRegistry(0, ['--max-watchers', '1']);
    const first = registration({ registryUrl: eureka, port: 7001, initialStatus: 'UP' });
    first.start();
    await first.whenSynced();
    // Someone else holds the only stream.
    const holder = await request(`${eureka}watch`, { headers: { accept: 'text/event-stream' } });
    cleanups.push(() => {
      holder.body.destroy();
    });
    expect(holder.statusCode).toBe(200);
    const client = discovery(eureka);
    await client.start();
    expect(client.getInstances('review').map((i) => i.instanceId)).toEqual([first.instanceId]);
    expect(client.snapshot()).toMatchObject({ mode: 'watch', fresh: true });
  });

  it('sees a second instance on the watch stream within 100 ms of its registration', async () => {
    const { eureka } = await startRegistry();
    const first = registration({ registryUrl: eureka, port: 7001, initialStatus: 'UP' });
    first.start();
    await first.whenSynced();
    const client = discovery(eureka);
    await client.start();
    expect(client.snapshot().mode).toBe('watch');
    expect(client.getInstances('review').map((i) => i.instanceId)).toEqual([first.instanceId]);

    const second = registration({ registryUrl: eureka, port: 7002, initialStatus: 'UP' });
    const seen = new Promise<number>((resolve) => {
      client.onChange((changes) => {
        if (changes.some((c) => c.instance.instanceId === second.instanceId && c.instance.status === 'UP')) {
          resolve(performance.now());
        }
      });
    });
    const started = performance.now();
    second.start();
    const elapsed = (await seen) - started;
    expect(elapsed).toBeLessThan(100);
    expect(client.getInstances('REVIEW').map((i) => i.port.port)).toEqual([7001, 7002]);
    expect(client.snapshot().appsHashCode).toBe('UP_2_');

    // STARTING and cancelled instances are not candidates.
    const starting = registration({ registryUrl: eureka, port: 7004 });
    starting.start();
    await starting.whenSynced();
    await first.stop();
    await eventually(() => client.getAllInstances('review').length === 2, 2000, 'cancel and STARTING seen');
    expect(client.getInstances('review').map((i) => i.port.port)).toEqual([7002]);
  });

  it('load-balances between two kit services found through the registry, retrying a dead one on the other', async () => {
    const { eureka } = await startRegistry();
    const a = await reviewService();
    const b = await reviewService();
    const ports = [a.endpoints[0]?.port, b.endpoints[0]?.port];
    registerService(a, { registryUrl: eureka, hostName: '127.0.0.1', ipAddr: '127.0.0.1' });
    // b registers on its own, so stopping b's server below leaves a registered instance nobody answers for.
    const bReg = registration({ registryUrl: eureka, port: ports[1] ?? 0, initialStatus: 'UP' });
    bReg.start();
    const client = discovery(eureka);
    await client.start();
    await eventually(() => client.getInstances('review').length === 2, 3000, 'both instances discovered');
    const { logger, lines } = captureLogger();
    const http = createLoadBalancedHttp({ discovery: client, logger, timeoutMs: 2000 });
    cleanups.push(() => http.close());

    const answered: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await http.request('http://review/review?productId=1');
      const body = (await res.body.json()) as { port: number };
      expect(res.serviceAddress).toBe(`127.0.0.1:${body.port}`);
      answered.push(body.port);
    }
    expect(new Set(answered)).toEqual(new Set(ports));
    expect(answered[0]).not.toBe(answered[1]);
    expect(answered[1]).not.toBe(answered[2]);

    await b.stop();
    expect(client.getInstances('review')).toHaveLength(2);
    for (let i = 0; i < 4; i++) {
      const res = await http.request('http://review/review?productId=1');
      expect(res.status).toBe(200);
      expect(((await res.body.json()) as { port: number }).port).toBe(ports[0]);
    }
    // Half of the four went to the dead instance first.
    expect(lines.filter((l) => l['msg'] === 'retrying on the next instance')).toHaveLength(2);
  });
});
