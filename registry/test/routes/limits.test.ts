// What a registration may claim: body and metadata sizes, lease times, lastDirtyTimestamps from the future, and how
// many instances the registry holds. Every refusal has a reason and leaves the registry (served and stored) as it was.
import { describe, expect, it } from 'vitest';
import { renderReplicationBatch } from '../../src/eureka/index.ts';
import { EUREKA_PREFIXES } from '../../src/app.ts';
import { leanHeartbeat } from '../../src/routes/instance.ts';
import { instance, jsClientBody, register, T0, testApp } from '../helpers.ts';

type TestApp = ReturnType<typeof testApp>;

async function snapshot(t: TestApp): Promise<unknown> {
  const res = await t.app.request('/eureka/apps', { headers: { accept: 'application/json' } });
  return { served: await res.text(), version: t.registry.version, stored: t.store.load() };
}

/** A registry holding the real `jsapp` instance, and what it looked like before the test's request. */
async function seeded(options: Parameters<typeof testApp>[0] = {}) {
  const t = testApp(options);
  expect((await register(t.app, jsClientBody())).status).toBe(204);
  return { t, before: await snapshot(t) };
}

const HOUR = 3_600_000;

describe('POST /eureka/apps/{APP}: registration limits', () => {
  it('refuses a body over the instance size (32 KiB by default) with 413 and the reason, before reading it', async () => {
    const { t, before } = await seeded();
    // The repro: a 900 KB registration used to be stored (and persisted) as is.
    const huge = JSON.stringify(jsClientBody({ hostName: 'h2', metadata: { pad: 'x'.repeat(900 * 1024) } }));
    const declared = await register(t.app, huge, '/eureka/apps/JSAPP', {
      'content-length': String(Buffer.byteLength(huge)),
    });
    expect(declared.status).toBe(413);
    expect(await declared.text()).toMatch(/^registration is \d+ bytes; at most 32768 are allowed$/);
    const undeclared = await register(t.app, huge);
    expect(undeclared.status).toBe(413);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses metadata over 64 entries or 8 KiB with 413, counting UTF-8 bytes', async () => {
    const { t, before } = await seeded();
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const a = await register(t.app, jsClientBody({ hostName: 'h2', metadata: many }));
    expect(a.status).toBe(413);
    expect(await a.text()).toBe('metadata has 65 entries; at most 64 are allowed');
    // 3,000 three-byte characters: under 8 KiB as characters, over it as bytes.
    const b = await register(t.app, jsClientBody({ hostName: 'h2', metadata: { note: '€'.repeat(3000) } }));
    expect(b.status).toBe(413);
    expect(await b.text()).toBe('metadata is 9004 bytes; at most 8192 are allowed');
    expect(await snapshot(t)).toEqual(before);
  });

  it('lowers leaseInfo durationInSecs and renewalIntervalInSecs to 300 s, so a forged lease cannot outlive its client', async () => {
    const t = testApp();
    const res = await register(
      t.app,
      jsClientBody({ hostName: 'h2', leaseInfo: { durationInSecs: 31_536_000, renewalIntervalInSecs: 86_400 } }),
    );
    expect(res.status).toBe(204);
    const held = t.registry.instance('JSAPP', 'h2');
    expect(held?.leaseInfo).toMatchObject({ durationInSecs: 300, renewalIntervalInSecs: 300 });
    t.clock.advance(301_000);
    t.registry.evictExpired();
    expect(t.registry.instance('JSAPP', 'h2')).toBeUndefined();
    // Lease times under the ceiling stay as sent.
    await register(
      t.app,
      jsClientBody({ hostName: 'h3', leaseInfo: { durationInSecs: 240, renewalIntervalInSecs: 60 } }),
    );
    expect(t.registry.instance('JSAPP', 'h3')?.leaseInfo).toMatchObject({
      durationInSecs: 240,
      renewalIntervalInSecs: 60,
    });
  });

  it('refuses a lastDirtyTimestamp beyond a minute ahead with 400, so a forged copy cannot pin itself over the real one', async () => {
    const { t, before } = await seeded();
    const forged = jsClientBody({ hostName: 'js-host', ipAddr: '6.6.6.6', lastDirtyTimestamp: T0 + 365 * 24 * HOUR });
    const res = await register(t.app, forged);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(
      /^lastDirtyTimestamp \d+ is 31536000 s ahead of the registry's clock \(at most 60 s allowed\)$/,
    );
    expect(await snapshot(t)).toEqual(before);
    // The real instance's later registration still replaces what is held.
    t.clock.advance(1000);
    expect((await register(t.app, jsClientBody({ ipAddr: '10.0.0.8' }))).status).toBe(204);
    expect(t.registry.instance('JSAPP', 'js-host')?.ipAddr).toBe('10.0.0.8');
    // A clock a little ahead (within the minute allowed) is no reason to refuse.
    const ahead = jsClientBody({ ipAddr: '10.0.0.9', lastDirtyTimestamp: t.clock.now + 30_000 });
    expect((await register(t.app, ahead)).status).toBe(204);
  });

  it('refuses a new instance beyond the per-application and total limits with 429, and still takes re-registrations', async () => {
    const { t } = await seeded({ limits: { maxInstancesPerApp: 2, maxInstances: 3 } });
    expect((await register(t.app, jsClientBody({ hostName: 'h2' }))).status).toBe(204);
    const before = await snapshot(t);
    const third = await register(t.app, jsClientBody({ hostName: 'h3' }));
    expect(third.status).toBe(429);
    expect(await third.text()).toBe('JSAPP already has 2 instances; at most 2 are allowed per application');
    expect(await snapshot(t)).toEqual(before);
    // Re-registering a held instance is no new instance.
    expect((await register(t.app, jsClientBody({ hostName: 'h2', ipAddr: '10.0.0.9' }))).status).toBe(204);
    const other = { app: 'other', hostName: 'o1' };
    expect((await register(t.app, jsClientBody(other), '/eureka/apps/OTHER')).status).toBe(204);
    const full = await register(t.app, jsClientBody({ app: 'other', hostName: 'o2' }), '/eureka/apps/OTHER');
    expect(full.status).toBe(429);
    expect(await full.text()).toBe('the registry holds 3 instances; at most 3 are allowed');
    // Room comes back when an instance goes.
    expect((await t.app.request('/eureka/apps/JSAPP/h2', { method: 'DELETE' })).status).toBe(200);
    expect((await register(t.app, jsClientBody({ app: 'other', hostName: 'o2' }), '/eureka/apps/OTHER')).status).toBe(
      204,
    );
  });
});

describe('writes that carry a lastDirtyTimestamp', () => {
  const future = T0 + 10 * 60_000;

  it.each([
    ['PUT', `/eureka/apps/JSAPP/js-host?status=UP&lastDirtyTimestamp=${future}`],
    ['PUT', `/eureka/apps/JSAPP/js-host/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=${future}`],
    ['DELETE', `/eureka/apps/JSAPP/js-host/status?lastDirtyTimestamp=${future}`],
  ])('%s %s from the future → 400 with the reason, nothing changed', async (method, path) => {
    const { t, before } = await seeded();
    const res = await t.app.request(path, { method });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^lastDirtyTimestamp \d+ is 600 s ahead/);
    expect(await snapshot(t)).toEqual(before);
  });

  it('the lean heartbeat leaves a future lastDirtyTimestamp to the route (400)', async () => {
    const { t } = await seeded();
    const lean = leanHeartbeat({ registry: t.registry, prefixes: EUREKA_PREFIXES });
    const request = (dirty: number) => ({
      method: 'PUT',
      path: '/eureka/apps/JSAPP/js-host',
      search: `status=UP&lastDirtyTimestamp=${dirty}`,
      headers: {},
      requestId: 'test',
    });
    expect(lean.answer(request(future))).toBeUndefined();
    expect(lean.answer(request(T0))?.status).toBe(200);
  });
});

describe('PUT /eureka/apps/{APP}/{ID}/metadata: limits', () => {
  it('refuses a merge that would exceed the metadata limits with 413, and takes one that fits', async () => {
    const { t, before } = await seeded({ limits: { maxMetadataEntries: 3, maxMetadataBytes: 64 } });
    const tooMany = await t.app.request('/eureka/apps/JSAPP/js-host/metadata?a=1&b=2&c=3&d=4', { method: 'PUT' });
    expect(tooMany.status).toBe(413);
    expect(await tooMany.text()).toBe('metadata has 4 entries; at most 3 are allowed');
    const tooBig = await t.app.request(`/eureka/apps/JSAPP/js-host/metadata?a=${'x'.repeat(64)}`, { method: 'PUT' });
    expect(tooBig.status).toBe(413);
    expect(await snapshot(t)).toEqual(before);
    expect((await t.app.request('/eureka/apps/JSAPP/js-host/metadata?a=1&b=2', { method: 'PUT' })).status).toBe(200);
    expect(t.registry.instance('JSAPP', 'js-host')?.metadata).toEqual({ a: '1', b: '2' });
    // The merged map counts: one more key would be the fourth.
    expect((await t.app.request('/eureka/apps/JSAPP/js-host/metadata?c=3&d=4', { method: 'PUT' })).status).toBe(413);
  });
});

describe('POST /eureka/peerreplication/batch: a peer is held to the same limits', () => {
  async function post(t: TestApp, body: string) {
    const res = await t.app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-netflix-discovery-replication': 'true' },
      body,
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { responseList: { statusCode: number }[] }).responseList.map((r) => r.statusCode);
  }

  it('answers each offending item with its status and applies none of them', async () => {
    const t = testApp({ limits: { maxInstancesPerApp: 1 } });
    t.registry.register(instance('SHOP', 'real', { lastDirtyTimestamp: T0 }));
    const before = await snapshot(t);
    const future = T0 + HOUR;
    const statuses = await post(
      t,
      renderReplicationBatch([
        // A forged copy of the real instance from the future, which every later registration would lose to.
        {
          action: 'Register',
          appName: 'SHOP',
          id: 'real',
          instanceInfo: instance('SHOP', 'real', { lastDirtyTimestamp: future }),
        },
        {
          action: 'Register',
          appName: 'SHOP',
          id: 'real',
          instanceInfo: instance('SHOP', 'real', { metadata: { pad: 'x'.repeat(40 * 1024) } }),
        },
        {
          action: 'Register',
          appName: 'SHOP',
          id: 'real',
          instanceInfo: instance('SHOP', 'real', { homePageUrl: `http://evil/${'a'.repeat(40 * 1024)}` }),
        },
        { action: 'Register', appName: 'SHOP', id: 'second', instanceInfo: instance('SHOP', 'second') },
        // A heartbeat from the future would store the replica's override.
        {
          action: 'Heartbeat',
          appName: 'SHOP',
          id: 'real',
          lastDirtyTimestamp: future,
          overriddenStatus: 'OUT_OF_SERVICE',
        },
        { action: 'StatusUpdate', appName: 'SHOP', id: 'real', status: 'DOWN', lastDirtyTimestamp: future },
      ]),
    );
    expect(statuses).toEqual([400, 413, 413, 429, 400, 400]);
    expect(await snapshot(t)).toEqual(before);
  });

  it('lowers a replicated lease to the ceiling', async () => {
    const t = testApp();
    const statuses = await post(
      t,
      renderReplicationBatch([
        {
          action: 'Register',
          appName: 'SHOP',
          id: 's1',
          instanceInfo: instance('SHOP', 's1', { durationInSecs: 99_999 }),
        },
      ]),
    );
    expect(statuses).toEqual([204]);
    expect(t.registry.instance('SHOP', 's1')?.leaseInfo.durationInSecs).toBe(300);
  });
});
