// The registry component as `trellis registry` starts it: settings, SQLite under the data directory, a real port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSettings, type Running } from '@trellis/kit';
import { afterEach, describe, expect, it } from 'vitest';
import { registryComponent } from '../src/main.ts';
import { openSqliteStore } from '../src/store/sqlite-store.ts';
import { instance, jsClientBody, silentLogger } from './helpers.ts';
import { captureLogger } from '../../kit/test/support/logger.ts';

const dirs: string[] = [];
const started: Running[] = [];
afterEach(async () => {
  for (const r of started.splice(0)) await r.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'registry-main-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, extra: string[] = [], env: Record<string, string> = {}, logger = silentLogger()) {
  const settings = loadSettings(registryComponent.settings, {
    argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dir, ...extra],
    env,
  });
  const running = await registryComponent.start(settings, { logger, env });
  started.push(running);
  const port = running.endpoints[0]?.port ?? 0;
  return { running, base: `http://127.0.0.1:${port}` };
}

async function ids(base: string): Promise<string[]> {
  const res = await fetch(`${base}/eureka/apps`, { headers: { accept: 'application/json' } });
  const doc = (await res.json()) as { applications: { application: { instance: { instanceId: string }[] }[] } };
  return doc.applications.application.flatMap((a) => a.instance.map((i) => i.instanceId));
}

function post(base: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}/eureka/apps/JSAPP`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('registryComponent', () => {
  it('declares its name, summary and settings with the Spring port by default', () => {
    expect(registryComponent.name).toBe('registry');
    expect(registryComponent.summary).toMatch(/Eureka/);
    const settings = loadSettings(registryComponent.settings, { env: {} });
    expect(settings).toMatchObject({
      port: 8761,
      dataDir: './data',
      evictionIntervalMs: 5000,
      selfPreservation: 'on',
      selfPreservationMinInstances: 7,
      renewalThresholdPercent: 85,
    });
    expect(settings.restoreGraceSecs).toBeUndefined();
    expect(loadSettings(registryComponent.settings, { env: { REGISTRY_PORT: '9000' } }).port).toBe(9000);
  });

  it('names the bad flag without echoing a secret', () => {
    expect(() =>
      loadSettings(registryComponent.settings, { env: { REGISTRY_WRITE_AUTH: 'basic:onlyuser-hunter2' } }),
    ).toThrow(/^invalid REGISTRY_WRITE_AUTH: is not basic:<user>:<password> or bearer:<token>$/);
  });

  it('serves the API and a registry health component, its details with --health-show-details always', async () => {
    const { running, base } = await start(dataDir(), ['--health-show-details', 'always']);
    expect(running.name).toBe('registry');
    expect((await post(base, jsClientBody())).status).toBe(204);
    const health = (await (await fetch(`${base}/actuator/health/registry`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({
      status: 'UP',
      details: { instances: 1, applications: 1, selfPreservation: { enabled: true, engaged: false } },
    });
    expect(running.notes?.[0]).toMatch(/writes are open/);
  });

  it('keeps every instance across a restart', async () => {
    const dir = dataDir();
    const first = await start(dir);
    await post(first.base, jsClientBody({ hostName: 'survivor-1' }));
    await post(first.base, jsClientBody({ hostName: 'survivor-2' }));
    await fetch(`${first.base}/eureka/apps/JSAPP/survivor-2/status?value=OUT_OF_SERVICE`, { method: 'PUT' });
    await first.running.stop();

    const second = await start(dir);
    expect((await ids(second.base)).sort()).toEqual(['survivor-1', 'survivor-2']);
    const inst = (await (
      await fetch(`${second.base}/eureka/apps/JSAPP/survivor-2`, { headers: { accept: 'application/json' } })
    ).json()) as { instance: { status: string } };
    expect(inst.instance.status).toBe('OUT_OF_SERVICE');
    // A restored instance renews as usual.
    expect((await fetch(`${second.base}/eureka/apps/JSAPP/survivor-1`, { method: 'PUT' })).status).toBe(200);
  });

  it('gives restored leases their grace, then evicts the ones that do not renew', async () => {
    const dir = dataDir();
    const first = await start(dir);
    const lease = { leaseInfo: { durationInSecs: 2, renewalIntervalInSecs: 1 } };
    await post(first.base, jsClientBody({ hostName: 'quiet', ...lease }));
    await post(first.base, jsClientBody({ hostName: 'alive', ...lease }));
    await first.running.stop();
    await sleep(2100); // longer than the lease: only the grace (= the 2 s lease) keeps them now

    const second = await start(dir, ['--eviction-interval-ms', '100']);
    expect((await ids(second.base)).sort()).toEqual(['alive', 'quiet']);
    for (let i = 0; i < 11; i++) {
      await sleep(250);
      await fetch(`${second.base}/eureka/apps/JSAPP/alive`, { method: 'PUT' });
    }
    expect(await ids(second.base)).toEqual(['alive']);
  });

  it('protects writes with --write-auth and leaves reads open', async () => {
    const { base, running } = await start(dataDir(), [], { REGISTRY_WRITE_AUTH: 'bearer:landscape-token' });
    expect(running.notes?.[0]).toBe('registry writes need bearer credentials');
    expect((await post(base, jsClientBody())).status).toBe(401);
    expect((await post(base, jsClientBody(), { authorization: 'Bearer landscape-token' })).status).toBe(204);
    expect(await ids(base)).toEqual(['js-host']);
  });

  it('warns at start, in the log an operator reads, when anyone may write to it', async () => {
    const open = captureLogger();
    await start(dataDir(), [], {}, open.logger);
    const warning = open
      .text()
      .split('\n')
      .filter((line) => line.includes('REGISTRY WRITES ARE OPEN'))
      .map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(warning).toHaveLength(1);
    expect(warning[0]?.level).toBe(40);
    expect(warning[0]?.msg).toMatch(/set --write-auth \(REGISTRY_WRITE_AUTH\)$/);
    const protectedLog = captureLogger();
    await start(dataDir(), [], { REGISTRY_WRITE_AUTH: 'basic:eureka:pw' }, protectedLog.logger);
    expect(protectedLog.text()).not.toContain('REGISTRY WRITES ARE OPEN');
  });

  it('drops stored instances over the limits at restart, from the store too, and lowers stored lease times', async () => {
    const dir = dataDir();
    // What an open registry took before the limits: kept on disk, restored by every restart.
    const seeded = openSqliteStore(join(dir, 'registry.db'));
    const now = Date.now();
    const record = (inst: ReturnType<typeof instance>) => ({
      instance: inst,
      overriddenStatus: 'UNKNOWN' as const,
      registrationTimestamp: now,
      lastRenewalTimestamp: now,
      serviceUpTimestamp: now,
      actionType: 'ADDED' as const,
    });
    seeded.save(record(instance('SHOP', 'real', { lastDirtyTimestamp: now })), 1);
    seeded.save(record(instance('SHOP', 'pinned', { lastDirtyTimestamp: now + 365 * 86_400_000 })), 2);
    seeded.save(
      record(instance('SHOP', 'fat', { lastDirtyTimestamp: now, metadata: { pad: 'x'.repeat(900 * 1024) } })),
      3,
    );
    seeded.save(record(instance('SHOP', 'forever', { lastDirtyTimestamp: now, durationInSecs: 31_536_000 })), 4);
    seeded.close();

    const { base, running } = await start(dir);
    expect((await ids(base)).sort()).toEqual(['forever', 'real']);
    const forever = (await (
      await fetch(`${base}/eureka/apps/SHOP/forever`, { headers: { accept: 'application/json' } })
    ).json()) as { instance: { leaseInfo: { durationInSecs: number } } };
    expect(forever.instance.leaseInfo.durationInSecs).toBe(300);
    await running.stop();
    started.splice(started.indexOf(running), 1);
    const reopened = openSqliteStore(join(dir, 'registry.db'));
    try {
      expect(
        reopened
          .load()
          .leases.map((l) => l.instance.instanceId)
          .sort(),
      ).toEqual(['forever', 'real']);
    } finally {
      reopened.close();
    }
  });

  it('fails to start with a one-line error when the port is taken', async () => {
    const { running } = await start(dataDir());
    const port = String(running.endpoints[0]?.port);
    const settings = loadSettings(registryComponent.settings, {
      argv: ['--port', port, '--host', '127.0.0.1', '--data-dir', dataDir()],
    });
    await expect(registryComponent.start(settings, { logger: silentLogger(), env: {} })).rejects.toThrow(
      `registry: port ${port} is already in use (set with --port (REGISTRY_PORT))`,
    );
  });
});
