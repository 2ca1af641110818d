// Interop: the real npm eureka-js-client against our registry on a real port. Intervals are shortened so each
// scenario (register, heartbeat, fetch, delta, re-register on 404, deregister) takes well under a second.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createService, type Service } from '@trellis/kit';
import { Eureka } from 'eureka-js-client';
import type { EurekaClientConfig } from 'eureka-js-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { parseCredential } from '../../src/auth/credentials.ts';
import { Registry } from '../../src/registry/registry.ts';
import { instance, silentLogger } from '../helpers.ts';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const emptyDir = mkdtempSync(join(tmpdir(), 'eureka-js-client-'));
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

let registry: Registry;
let service: Service;
let port: number;
const clients: Eureka[] = [];
/** `METHOD path` of every request the registry saw, to tell which endpoints the client used. */
const seen: string[] = [];

beforeAll(async () => {
  registry = new Registry();
  service = createService({ name: 'registry', logger: silentLogger(), git: false });
  service.app.use(async (c, next) => {
    seen.push(`${c.req.method} ${c.req.path}`);
    await next();
  });
  service.app.route('/', createApp({ registry, stopping: service.stopping }));
  port = (await service.listen({ port: 0, host: '127.0.0.1' })).port;
});
afterAll(async () => {
  await service.stop();
});
afterEach(async () => {
  for (const client of clients.splice(0)) await new Promise<void>((done) => client.stop(() => done()));
  seen.length = 0;
  for (const app of registry.applications()) for (const i of app.instances) registry.cancel(i.app, i.instanceId);
});

function client(
  hostName: string,
  options: { servicePath?: string; shouldUseDelta?: boolean; app?: string; heartbeatInterval?: number } = {},
): Eureka {
  const app = options.app ?? 'jsapp';
  const config: EurekaClientConfig = {
    instance: {
      app,
      hostName,
      ipAddr: '127.0.0.1',
      port: { $: 3000, '@enabled': true },
      vipAddress: app,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
    },
    eureka: {
      host: '127.0.0.1',
      port,
      heartbeatInterval: options.heartbeatInterval ?? 100,
      registryFetchInterval: 100,
      maxRetries: 0,
      ...(options.servicePath === undefined ? {} : { servicePath: options.servicePath }),
    },
    shouldUseDelta: options.shouldUseDelta ?? false,
    cwd: emptyDir,
    logger: quiet,
  };
  const eureka = new Eureka(config);
  clients.push(eureka);
  return eureka;
}

function start(eureka: Eureka): Promise<void> {
  return new Promise((resolve, reject) => eureka.start((err) => (err ? reject(err) : resolve())));
}

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const hosts = (eureka: Eureka, vip = 'jsapp') =>
  eureka
    .getInstancesByVipAddress(vip)
    .map((i) => i.hostName)
    .sort();

describe.each([
  ['its default /eureka/v2/apps/', undefined, '/eureka/v2/apps/'],
  ['/eureka/apps/ (servicePath)', '/eureka/apps/', '/eureka/apps/'],
])('eureka-js-client on %s', (_name, servicePath, prefix) => {
  it('registers (204), fetches the registry and finds itself', async () => {
    const eureka = client('js-1', { ...(servicePath === undefined ? {} : { servicePath }) });
    const registered = new Promise<void>((done) => eureka.once('registered', () => done()));
    await start(eureka);
    await registered;
    expect(seen).toContain(`POST ${prefix}jsapp`);
    expect(seen).toContain(`GET ${prefix}`);
    expect(registry.instance('JSAPP', 'js-1')).toMatchObject({ status: 'UP', hostName: 'js-1' });
    expect(eureka.getInstancesByAppId('JSAPP').map((i) => i.hostName)).toEqual(['js-1']);
    expect(eureka.getInstancesByAppId('JSAPP')[0]?.port).toEqual({ $: 3000, '@enabled': 'true' });
  });

  it('heartbeats (200) and renews its lease', async () => {
    const eureka = client('js-2', { ...(servicePath === undefined ? {} : { servicePath }) });
    await start(eureka);
    const registeredAt = registry.instance('JSAPP', 'js-2')?.leaseInfo.lastRenewalTimestamp ?? 0;
    await new Promise<void>((done) => eureka.once('heartbeat', () => done()));
    expect(seen).toContain(`PUT ${prefix}jsapp/js-2`);
    expect(registry.instance('JSAPP', 'js-2')?.leaseInfo.lastRenewalTimestamp).toBeGreaterThanOrEqual(registeredAt);
    expect(registry.renewsLastMinute()).toBeGreaterThan(0);
  });

  it('re-registers when a heartbeat is answered 404', async () => {
    const eureka = client('js-3', { ...(servicePath === undefined ? {} : { servicePath }) });
    await start(eureka);
    registry.cancel('JSAPP', 'js-3');
    const again = new Promise<void>((done) => eureka.once('registered', () => done()));
    await again;
    expect(registry.instance('JSAPP', 'js-3')).toBeDefined();
  });

  it('follows changes through deltas (shouldUseDelta): ADDED, MODIFIED, DELETED', async () => {
    const eureka = client('js-4', { shouldUseDelta: true, ...(servicePath === undefined ? {} : { servicePath }) });
    await start(eureka);
    expect(eureka.hasFullRegistry).toBe(true);
    registry.register(instance('JSAPP', 'peer-a', { hostName: 'peer-a', vipAddress: 'jsapp' }));
    registry.register(instance('JSAPP', 'peer-b', { hostName: 'peer-b', vipAddress: 'jsapp' }));
    await until(() => hosts(eureka).join() === 'js-4,peer-a,peer-b', 'the added instances');

    registry.setStatusOverride('JSAPP', 'peer-b', 'OUT_OF_SERVICE');
    const statusOf = (host: string) =>
      eureka.getInstancesByVipAddress('jsapp').find((i) => i.hostName === host)?.status;
    await until(() => statusOf('peer-b') === 'OUT_OF_SERVICE', 'the modified instance');

    registry.cancel('JSAPP', 'peer-a');
    await until(() => hosts(eureka).join() === 'js-4,peer-b', 'the deleted instance to go');
    expect(seen).toContain(`GET ${prefix}delta`);
    // One full fetch at start, deltas after it.
    expect(seen.filter((s) => s === `GET ${prefix}`)).toHaveLength(1);
  });

  it('deregisters on stop (DELETE answered 200)', async () => {
    const eureka = client('js-5', { ...(servicePath === undefined ? {} : { servicePath }) });
    await start(eureka);
    const deregistered = new Promise<void>((done) => eureka.once('deregistered', () => done()));
    clients.splice(clients.indexOf(eureka), 1);
    await new Promise<void>((done, fail) => eureka.stop((err) => (err ? fail(err) : done())));
    await deregistered;
    expect(seen).toContain(`DELETE ${prefix}jsapp/js-5`);
    expect(registry.instance('JSAPP', 'js-5')).toBeUndefined();
  });
});

describe('eureka-js-client against a write-protected registry', () => {
  it('registers with credentials in the service path and is refused without them', async () => {
    const secured = new Registry();
    const securedService = createService({ name: 'registry', logger: silentLogger(), git: false });
    securedService.app.route(
      '/',
      createApp({ registry: secured, stopping: securedService.stopping, writeAuth: parseCredential('basic:app:pw') }),
    );
    const securedPort = (await securedService.listen({ port: 0, host: '127.0.0.1' })).port;
    try {
      const make = (hostName: string, auth: string): Eureka =>
        new Eureka({
          instance: {
            app: 'jsapp',
            hostName,
            ipAddr: '127.0.0.1',
            port: { $: 3000, '@enabled': true },
            vipAddress: 'jsapp',
            dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
          },
          eureka: {
            host: `${auth}127.0.0.1`,
            port: securedPort,
            servicePath: '/eureka/apps/',
            heartbeatInterval: 60_000,
            registryFetchInterval: 60_000,
            maxRetries: 0,
          },
          cwd: emptyDir,
          logger: quiet,
        });
      const refused = make('no-auth', '');
      await expect(start(refused)).rejects.toThrow(/status: 401/);
      refused.stop();
      const allowed = make('with-auth', 'app:pw@');
      await start(allowed);
      expect(secured.instance('JSAPP', 'with-auth')).toBeDefined();
      expect(secured.instance('JSAPP', 'no-auth')).toBeUndefined();
      await new Promise<void>((done) => allowed.stop(() => done()));
      expect(secured.size).toBe(0);
    } finally {
      await securedService.stop();
    }
  });
});
