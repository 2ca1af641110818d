// REGISTRY_CLIENTS: a credential limited to some applications changes only their instances, on every write route,
// and never the peer replication batch; the write credential and `*` clients still change everything.
import { describe, expect, it } from 'vitest';
import { parseScopedEntries, scopedCredentials, type LeanRequest } from '@trellis/kit';
import { EUREKA_PREFIXES } from '../../src/app.ts';
import { parseCredential } from '../../src/auth/credentials.ts';
import { loadConfig } from '../../src/config.ts';
import { renderReplicationBatch } from '../../src/eureka/index.ts';
import { leanHeartbeat } from '../../src/routes/instance.ts';
import { jsClientBody, register, testApp } from '../helpers.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const REVIEW = basic('review', 'review-s3cret');
const PRODUCT = basic('product-composite', 'composite-s3cret');
const OPS = basic('ops', 'ops-s3cret-all');
const WRITE = basic('registry', 'registry-s3cret');
const CLIENTS = 'review:review-s3cret:review;product-composite:composite-s3cret:PRODUCT-COMPOSITE;ops:ops-s3cret-all:*';

function clientsApp(logger?: ReturnType<typeof captureLogger>['logger']) {
  const clients = scopedCredentials(parseScopedEntries(CLIENTS, { normalize: (s) => s.toUpperCase() }));
  const writeAuth = parseCredential('basic:registry:registry-s3cret');
  return { ...testApp({ writeAuth, clients, ...(logger === undefined ? {} : { logger }) }), clients, writeAuth };
}

const composite = (overrides: Record<string, unknown> = {}) =>
  jsClientBody({ app: 'product-composite', vipAddress: 'product-composite', instanceId: 'pc-1', ...overrides });
const review = (overrides: Record<string, unknown> = {}) =>
  jsClientBody({ app: 'review', vipAddress: 'review', instanceId: 'rv-1', ...overrides });

describe('per-application registry credentials (--clients)', () => {
  it('lets review register, renew, change and cancel its own instances, lower-case path or not', async () => {
    const { app, registry } = clientsApp();
    expect((await register(app, review(), '/eureka/apps/review', REVIEW)).status).toBe(204);
    expect((await register(app, review({ instanceId: 'rv-2' }), '/eureka/v2/apps/REVIEW', REVIEW)).status).toBe(204);
    for (const [method, path] of [
      ['PUT', '/eureka/apps/REVIEW/rv-1'],
      ['PUT', '/eureka/v2/apps/review/rv-1/status?value=OUT_OF_SERVICE'],
      ['DELETE', '/eureka/apps/Review/rv-1/status'],
      ['PUT', '/eureka/apps/REVIEW/rv-1/metadata?zone=a'],
      ['DELETE', '/eureka/apps/REVIEW/rv-2'],
    ] as const) {
      expect([path, (await app.request(path, { method, headers: REVIEW })).status]).toEqual([path, 200]);
    }
    expect(registry.instance('REVIEW', 'rv-1')?.metadata).toEqual({ zone: 'a' });
    expect(registry.instance('REVIEW', 'rv-2')).toBeUndefined();
  });

  it('refuses review registering as PRODUCT-COMPOSITE (403 with the reason), on every spelling of the path', async () => {
    const { app, registry } = clientsApp();
    for (const path of [
      '/eureka/apps/PRODUCT-COMPOSITE',
      '/eureka/v2/apps/product-composite',
      '/eureka/apps/product%2Dcomposite',
      '/eureka/apps/PRODUCT-COMPOSITE/',
    ]) {
      const res = await register(app, composite(), path, REVIEW);
      expect([path, res.status]).toEqual([path, 403]);
      expect(await res.text()).toBe('Credentials review may change only instances of REVIEW, not "PRODUCT-COMPOSITE"');
    }
    expect(registry.size).toBe(0);
  });

  it('refuses review renewing, cancelling, or changing the status or metadata of PRODUCT-COMPOSITE', async () => {
    const { app, registry } = clientsApp();
    expect((await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', PRODUCT)).status).toBe(204);
    const before = registry.instance('PRODUCT-COMPOSITE', 'pc-1');
    const version = registry.version;
    for (const prefix of EUREKA_PREFIXES) {
      for (const [method, rest] of [
        ['PUT', '/apps/PRODUCT-COMPOSITE/pc-1'],
        ['DELETE', '/apps/product-composite/pc-1'],
        ['PUT', '/apps/PRODUCT-COMPOSITE/pc-1/status?value=OUT_OF_SERVICE'],
        ['DELETE', '/apps/PRODUCT-COMPOSITE/pc-1/status?value=DOWN'],
        ['PUT', '/apps/PRODUCT-COMPOSITE/pc-1/metadata?management.port=1'],
        ['PUT', '/apps/PRODUCT%2DCOMPOSITE/pc-1'],
      ] as const) {
        const path = prefix + rest;
        const res = await app.request(path, { method, headers: REVIEW });
        expect([method, path, res.status]).toEqual([method, path, 403]);
      }
    }
    expect(registry.version).toBe(version);
    expect(registry.instance('PRODUCT-COMPOSITE', 'pc-1')).toEqual(before);
    // The composite's own credential still may.
    const own = await app.request('/eureka/apps/PRODUCT-COMPOSITE/pc-1', { method: 'DELETE', headers: PRODUCT });
    expect(own.status).toBe(200);
  });

  it('refuses a registration of its own app whose VIP address is another app’s (Spring finds lb:// by VIP)', async () => {
    const { app, registry } = clientsApp();
    for (const overrides of [
      { vipAddress: 'product-composite' },
      { secureVipAddress: 'PRODUCT-COMPOSITE:443' },
      { vipAddress: 'review,product-composite' },
    ]) {
      const res = await register(app, review(overrides), '/eureka/apps/REVIEW', REVIEW);
      expect([overrides, res.status]).toEqual([overrides, 403]);
    }
    expect(registry.size).toBe(0);
    expect((await register(app, review({ vipAddress: 'review:8080' }), '/eureka/apps/REVIEW', REVIEW)).status).toBe(
      204,
    );
  });

  it('keeps peer replication to all-applications credentials: the batch and requests marked as a peer’s', async () => {
    const { app, registry } = clientsApp();
    expect((await register(app, review(), '/eureka/apps/REVIEW', REVIEW)).status).toBe(204);
    const version = registry.version;
    const batch = renderReplicationBatch([{ action: 'Cancel', appName: 'REVIEW', id: 'rv-1' }]);
    const headers = { 'content-type': 'application/json' };
    const refused = await app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      body: batch,
      headers: { ...headers, ...REVIEW },
    });
    expect(refused.status).toBe(403);
    const marked = await app.request('/eureka/apps/REVIEW/rv-1', {
      method: 'DELETE',
      headers: { ...REVIEW, 'x-netflix-discovery-replication': 'true' },
    });
    expect(marked.status).toBe(403);
    expect(registry.version).toBe(version);
    for (const auth of [OPS, WRITE]) {
      const res = await app.request('/eureka/v2/peerreplication/batch', {
        method: 'POST',
        body: batch,
        headers: { ...headers, ...auth },
      });
      expect(res.status).toBe(200);
    }
    expect(registry.size).toBe(0);
  });

  it('lets a * client and the write credential change any application', async () => {
    const { app, registry } = clientsApp();
    expect((await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', OPS)).status).toBe(204);
    expect((await register(app, review(), '/eureka/apps/REVIEW', WRITE)).status).toBe(204);
    expect(registry.size).toBe(2);
  });

  it('answers 401 to a wrong secret, or one client’s secret under another’s id, and changes nothing', async () => {
    const { app, registry } = clientsApp();
    for (const auth of [
      basic('review', 'composite-s3cret'),
      basic('review', 'guess-guess'),
      basic('REVIEW', 'review-s3cret'),
    ]) {
      const res = await register(app, review(), '/eureka/apps/REVIEW', auth);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Basic realm="trellis-registry"');
    }
    expect(registry.size).toBe(0);
  });

  it('lets a limited client read when reads need credentials (a service has one registry URL)', async () => {
    const clients = scopedCredentials(parseScopedEntries(CLIENTS, { normalize: (s) => s.toUpperCase() }));
    const { app } = testApp({ clients, readAuth: parseCredential('bearer:reader-token') });
    expect((await app.request('/eureka/apps', { headers: REVIEW })).status).toBe(200);
    expect((await app.request('/eureka/apps')).status).toBe(401);
  });

  it('guards writes with clients alone, without --write-auth', async () => {
    const clients = scopedCredentials(parseScopedEntries(CLIENTS, { normalize: (s) => s.toUpperCase() }));
    const { app, registry } = testApp({ clients });
    expect((await register(app, review(), '/eureka/apps/REVIEW')).status).toBe(401);
    expect((await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', REVIEW)).status).toBe(403);
    expect(registry.size).toBe(0);
  });

  it('never logs the secrets', async () => {
    const mem = captureLogger();
    const { app } = clientsApp(mem.logger);
    await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', REVIEW);
    await register(app, review(), '/eureka/apps/REVIEW', REVIEW);
    expect(mem.text()).toContain('instance registered');
    expect(mem.text()).not.toContain('review-s3cret');
    expect(mem.text()).not.toContain(REVIEW.authorization?.slice(6));
  });
});

describe('the lean heartbeat with per-application credentials', () => {
  const lean = (url: string, headers: Record<string, string>): LeanRequest => ({
    method: 'PUT',
    path: url,
    search: '',
    headers,
    requestId: 't',
  });

  it('renews a client’s own instance and leaves another app’s to the route (403)', async () => {
    const { app, registry, clients, writeAuth } = clientsApp();
    await register(app, composite(), '/eureka/apps/PRODUCT-COMPOSITE', PRODUCT);
    await register(app, review(), '/eureka/apps/REVIEW', REVIEW);
    const route = leanHeartbeat({ registry, writeAuth, clients, prefixes: EUREKA_PREFIXES });
    expect(route.answer(lean('/eureka/apps/review/rv-1', REVIEW))?.status).toBe(200);
    expect(route.answer(lean('/eureka/apps/PRODUCT-COMPOSITE/pc-1', PRODUCT))?.status).toBe(200);
    expect(route.answer(lean('/eureka/apps/PRODUCT-COMPOSITE/pc-1', OPS))?.status).toBe(200);
    const renewed = registry.instance('PRODUCT-COMPOSITE', 'pc-1')?.leaseInfo.lastRenewalTimestamp;
    for (const path of ['/eureka/apps/PRODUCT-COMPOSITE/pc-1', '/eureka/v2/apps/product%2Dcomposite/pc-1']) {
      expect(route.answer(lean(path, REVIEW))).toBeUndefined();
    }
    expect(route.answer(lean('/eureka/apps/REVIEW/rv-1', basic('review', 'wrong-secret')))).toBeUndefined();
    expect(registry.instance('PRODUCT-COMPOSITE', 'pc-1')?.leaseInfo.lastRenewalTimestamp).toBe(renewed);
  });
});

describe('--clients (REGISTRY_CLIENTS)', () => {
  it('refuses a malformed list naming the entry, never the secret', () => {
    for (const value of ['review:short:REVIEW', 'review:review-s3cret', 'a:review-s3cret:X;b:review-s3cret:Y']) {
      let message = '';
      try {
        loadConfig({ env: { REGISTRY_CLIENTS: value } });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/^invalid --clients \(REGISTRY_CLIENTS\): entry \d/);
      expect(message).not.toContain('review-s3cret');
    }
  });

  it('counts as write protection in production, and refuses the development secrets there', () => {
    const env = { NODE_ENV: 'production', REGISTRY_CLIENTS: 'ops:ops-s3cret-all:*' };
    expect(loadConfig({ env }).clients?.clients).toEqual([{ id: 'ops', scopes: ['*'] }]);
    expect(() => loadConfig({ env: { ...env, REGISTRY_CLIENTS: 'review:trellis-dev-only-review:REVIEW' } })).toThrow(
      /development registry credential of docker-compose.yml/,
    );
  });
});
