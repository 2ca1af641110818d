// An instance id belongs to one application at a time: a registration of an id another application holds is refused
// (409), by a client, a peer's replication batch, the start-up sync and a restart's restore alike, so
// GET /instances/{ID} always names one instance and a credential limited to REVIEW cannot shadow PRODUCT-COMPOSITE's.
import { describe, expect, it } from 'vitest';
import { parseScopedEntries, scopedCredentials } from '@trellis/kit';
import { parseCredential } from '../../src/auth/credentials.ts';
import { renderApplications, renderReplicationBatch } from '../../src/eureka/index.ts';
import { syncFromPeers } from '../../src/peers/sync.ts';
import { DEFAULT_LIMITS } from '../../src/registry/limits.ts';
import { Registry } from '../../src/registry/registry.ts';
import { instance, jsClientBody, register, silentLogger, testApp } from '../helpers.ts';

const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const REVIEW = basic('review', 'review-s3cret');
const PRODUCT = basic('product-composite', 'composite-s3cret');
const CLIENTS = 'review:review-s3cret:review;product-composite:composite-s3cret:PRODUCT-COMPOSITE';

function clientsApp() {
  const clients = scopedCredentials(parseScopedEntries(CLIENTS, { normalize: (s) => s.toUpperCase() }));
  const writeAuth = parseCredential('basic:registry:registry-s3cret');
  return testApp({ writeAuth, clients });
}

const composite = (overrides: Record<string, unknown> = {}) =>
  jsClientBody({ app: 'product-composite', vipAddress: 'product-composite', instanceId: 'pc1', ...overrides });
const review = (overrides: Record<string, unknown> = {}) =>
  jsClientBody({ app: 'review', vipAddress: 'review', instanceId: 'pc1', hostName: 'evil', ...overrides });

const json = { accept: 'application/json' };

describe('an instance id belongs to one application at a time', () => {
  it("refuses review registering PRODUCT-COMPOSITE's id under REVIEW (409), and /instances/{ID} stays the owner's", async () => {
    const { app, registry } = clientsApp();
    expect((await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', PRODUCT)).status).toBe(204);
    const version = registry.version;
    for (const path of ['/eureka/apps/REVIEW', '/eureka/v2/apps/review', '/eureka/apps/REVIEW/']) {
      const res = await register(app, review(), path, REVIEW);
      expect([path, res.status]).toEqual([path, 409]);
      const reason = await res.text();
      expect(reason).toBe(
        'instanceId pc1 is registered under another application (PRODUCT-COMPOSITE); an instance id belongs to one application at a time',
      );
      expect(reason).not.toMatch(/s3cret|js-host|10\.0\.0\.7/);
    }
    expect(registry.version).toBe(version);
    expect(registry.instance('REVIEW', 'pc1')).toBeUndefined();
    const res = await app.request('/eureka/instances/pc1', { headers: json });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { instance: { app: string; hostName: string } };
    expect(body.instance).toMatchObject({ app: 'PRODUCT-COMPOSITE', hostName: 'js-host' });
  });

  it('lets the holder re-register its id, and frees the id when the holder cancels or expires', async () => {
    const { app, registry, clock } = clientsApp();
    expect((await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', PRODUCT)).status).toBe(204);
    // Eureka clients re-register under the same application (on a 404 heartbeat, on a status change).
    expect((await register(app, composite({ status: 'DOWN' }), '/eureka/apps/product-composite', PRODUCT)).status).toBe(
      204,
    );
    expect(registry.instance('PRODUCT-COMPOSITE', 'pc1')?.status).toBe('DOWN');
    expect(
      (await app.request('/eureka/apps/PRODUCT-COMPOSITE/pc1', { method: 'DELETE', headers: PRODUCT })).status,
    ).toBe(200);
    expect((await register(app, review(), '/eureka/apps/REVIEW', REVIEW)).status).toBe(204);
    expect(
      ((await (await app.request('/eureka/instances/pc1', { headers: json })).json()) as { instance: { app: string } })
        .instance.app,
    ).toBe('REVIEW');

    // Expiry frees it too: the REVIEW lease runs out, and PRODUCT-COMPOSITE may take the id again.
    clock.advance(91_000);
    registry.evictExpired();
    expect(registry.size).toBe(0);
    expect((await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', PRODUCT)).status).toBe(204);
  });

  it("refuses a peer's Register of an id another application holds (409 for that item only)", async () => {
    const { app, registry } = testApp();
    registry.register(instance('PRODUCT-COMPOSITE', 'pc1'));
    const body = renderReplicationBatch([
      { action: 'Register', appName: 'REVIEW', id: 'pc1', instanceInfo: instance('REVIEW', 'pc1') },
      { action: 'Register', appName: 'REVIEW', id: 'r1', instanceInfo: instance('REVIEW', 'r1') },
    ]);
    const res = await app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...json, 'x-netflix-discovery-replication': 'true' },
      body,
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { responseList: { statusCode: number }[] };
    expect(answer.responseList.map((r) => r.statusCode)).toEqual([409, 204]);
    expect(registry.instance('REVIEW', 'pc1')).toBeUndefined();
    expect(registry.instanceById('pc1')?.app).toBe('PRODUCT-COMPOSITE');
  });

  it("skips, in the start-up sync, a peer's instance whose id another application holds here", async () => {
    for (const limits of [DEFAULT_LIMITS, undefined]) {
      const registry = new Registry();
      registry.register(instance('PRODUCT-COMPOSITE', 'pc1'));
      const peerBody = renderApplications(
        [
          { name: 'REVIEW', instances: [instance('REVIEW', 'pc1'), instance('REVIEW', 'r1')] },
          // Two applications with one id in the same document: the first one taken holds it.
          { name: 'SHOP', instances: [instance('SHOP', 'r1')] },
        ],
        { format: 'json', versionsDelta: 1, appsHashCode: '' },
      );
      const result = await syncFromPeers({
        registry,
        peers: [{ url: 'http://peer.test/eureka', label: 'peer', authorization: undefined }],
        http: () => Promise.resolve({ status: 200, body: peerBody }),
        log: silentLogger(),
        timeoutMs: 1000,
        ...(limits === undefined ? {} : { limits }),
      });
      expect(result).toEqual({ from: 'peer', instances: 1 });
      expect(registry.instanceById('pc1')?.app).toBe('PRODUCT-COMPOSITE');
      expect(registry.instanceById('r1')?.app).toBe('REVIEW');
      expect(registry.instance('SHOP', 'r1')).toBeUndefined();
    }
  });

  it('restores only the first of two stored applications holding one id', () => {
    const registry = new Registry();
    const lease = (app: string) => ({
      instance: instance(app, 'dup'),
      overriddenStatus: 'UNKNOWN' as const,
      registrationTimestamp: 1,
      lastRenewalTimestamp: 1,
      serviceUpTimestamp: 1,
      actionType: 'ADDED' as const,
    });
    expect(registry.restore([lease('A'), lease('B')])).toBe(1);
    expect(registry.instanceById('dup')?.app).toBe('A');
    expect(registry.instance('B', 'dup')).toBeUndefined();
    expect(registry.size).toBe(1);
  });
});
