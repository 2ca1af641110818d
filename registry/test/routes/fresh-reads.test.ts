// No stale reads: GET /apps and /apps/delta are cached per (format, gzip), and every kind of write shows in the very
// next read of every variant.
import { gunzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { renderReplicationBatch } from '../../src/eureka/index.ts';
import { instance, jsClientBody, register, testApp } from '../helpers.ts';
import type { TestApp } from '../helpers.ts';

const VARIANTS = [
  { accept: 'application/json', gzip: false },
  { accept: 'application/json', gzip: true },
  { accept: 'application/xml', gzip: false },
  { accept: 'application/xml', gzip: true },
] as const;

/** Every cached variant of a document, decoded to text. */
async function readAll(t: TestApp, path: string): Promise<string[]> {
  const out: string[] = [];
  for (const v of VARIANTS) {
    const headers: Record<string, string> = { accept: v.accept, ...(v.gzip ? { 'accept-encoding': 'gzip' } : {}) };
    const res = await t.app.request(path, { headers });
    const bytes = Buffer.from(await res.arrayBuffer());
    out.push((v.gzip ? gunzipSync(bytes) : bytes).toString('utf8'));
  }
  return out;
}

async function expectEvery(t: TestApp, check: (text: string) => boolean): Promise<void> {
  for (const path of ['/eureka/apps', '/eureka/apps/delta']) {
    for (const text of await readAll(t, path)) expect(check(text), `${path}: ${text.slice(0, 200)}`).toBe(true);
  }
}

async function primed(): Promise<TestApp> {
  const t = testApp({ registryOptions: { selfPreservation: { enabled: false } } });
  await register(t.app, jsClientBody());
  await readAll(t, '/eureka/apps');
  await readAll(t, '/eureka/apps/delta');
  return t;
}

const has = (s: string) => (text: string) => text.includes(s);

describe('a read right after a write reflects it', () => {
  it('register', async () => {
    const t = await primed();
    await register(t.app, jsClientBody({ hostName: 'fresh-host' }));
    await expectEvery(t, has('fresh-host'));
  });

  it('status override set and removed', async () => {
    const t = await primed();
    await t.app.request('/eureka/apps/JSAPP/js-host/status?value=OUT_OF_SERVICE', { method: 'PUT' });
    await expectEvery(t, has('OUT_OF_SERVICE_1_'));
    await t.app.request('/eureka/apps/JSAPP/js-host/status', { method: 'DELETE' });
    await expectEvery(t, (text) => text.includes('UP_1_') && !text.includes('OUT_OF_SERVICE_1_'));
  });

  it('metadata', async () => {
    const t = await primed();
    await t.app.request('/eureka/apps/JSAPP/js-host/metadata?color=ultraviolet', { method: 'PUT' });
    await expectEvery(t, has('ultraviolet'));
  });

  it('cancel', async () => {
    const t = await primed();
    await t.app.request('/eureka/apps/JSAPP/js-host', { method: 'DELETE' });
    for (const text of await readAll(t, '/eureka/apps')) expect(text).not.toContain('js-host');
    for (const text of await readAll(t, '/eureka/apps/delta')) expect(text).toContain('DELETED');
  });

  it('eviction', async () => {
    const t = await primed();
    t.clock.advance(90_000);
    expect(t.registry.evictExpired().evicted).toHaveLength(1);
    for (const text of await readAll(t, '/eureka/apps')) expect(text).not.toContain('js-host');
  });

  it('replication batch', async () => {
    const t = await primed();
    const body = renderReplicationBatch([
      { action: 'Register', appName: 'PEERAPP', id: 'p1', instanceInfo: instance('PEERAPP', 'p1') },
    ]);
    await t.app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await expectEvery(t, has('PEERAPP'));
  });

  it('serves repeated reads between writes from the cache, and renders again after a write', async () => {
    const t = await primed();
    const render = vi.spyOn(t.registry, 'applications');
    const first = await readAll(t, '/eureka/apps');
    expect(render).not.toHaveBeenCalled();
    expect(await readAll(t, '/eureka/apps')).toEqual(first);
    expect(render).not.toHaveBeenCalled();
    await t.app.request('/eureka/apps/JSAPP/js-host/metadata?x=1', { method: 'PUT' });
    await readAll(t, '/eureka/apps');
    expect(render).toHaveBeenCalledTimes(VARIANTS.length);
  });

  it('a heartbeat does not throw the cache away (it changes nothing a client caches)', async () => {
    const t = await primed();
    const render = vi.spyOn(t.registry, 'applications');
    await t.app.request('/eureka/apps/JSAPP/js-host', { method: 'PUT' });
    await readAll(t, '/eureka/apps');
    expect(render).not.toHaveBeenCalled();
  });
});
