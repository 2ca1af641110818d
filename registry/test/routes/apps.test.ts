import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { SmartRouter } from 'hono/router/smart-router';
import { appsHashCode } from '../../src/eureka/index.ts';
import { fetchApps, jsClientBody, register, testApp } from '../helpers.ts';

type Instance = Record<string, unknown> & { instanceId: string; app: string; status: string; actionType?: string };
interface Doc {
  applications: {
    versions__delta: string;
    apps__hashcode: string;
    application: { name: string; instance: Instance[] }[];
  };
}

async function getJson(app: ReturnType<typeof testApp>['app'], path: string): Promise<Doc> {
  const res = await app.request(path, { headers: { accept: 'application/json' } });
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

function instancesOf(doc: Doc): Instance[] {
  return doc.applications.application.flatMap((a) => a.instance);
}

describe('GET /eureka/apps', () => {
  it('answers the empty registry as Eureka does', async () => {
    const { app } = testApp();
    expect(await getJson(app, '/eureka/apps')).toEqual({
      applications: { versions__delta: '0', apps__hashcode: '', application: [] },
    });
    const xml = await app.request('/eureka/apps');
    expect(xml.headers.get('content-type')).toBe('application/xml');
    expect(await xml.text()).toBe(
      '<applications>\n  <versions__delta>0</versions__delta>\n  <apps__hashcode></apps__hashcode>\n</applications>',
    );
  });

  it('lists every instance with versions__delta = the version and the registry hash', async () => {
    const { app } = testApp();
    await register(app, jsClientBody());
    await register(app, jsClientBody({ hostName: 'js-2', status: 'DOWN' }));
    const doc = await getJson(app, '/eureka/apps');
    expect(doc.applications.versions__delta).toBe('2');
    expect(doc.applications.apps__hashcode).toBe('DOWN_1_UP_1_');
    expect(instancesOf(doc).map((i) => i.instanceId)).toEqual(['js-host', 'js-2']);
  });

  it('answers XML unless Accept mentions json, on every alias and with trailing slashes', async () => {
    const { app } = testApp();
    await register(app, jsClientBody());
    for (const path of ['/eureka/apps', '/eureka/apps/', '/eureka/v2/apps', '/eureka/v2/apps/']) {
      const xml = await app.request(path, { headers: { accept: 'application/xml' } });
      expect(xml.headers.get('content-type')).toBe('application/xml');
      expect(await xml.text()).toContain('<instanceId>js-host</instanceId>');
      const json = await app.request(path, { headers: { accept: 'application/json, */*' } });
      expect(json.headers.get('content-type')).toBe('application/json');
      expect(instancesOf((await json.json()) as Doc)[0]?.instanceId).toBe('js-host');
    }
  });

  it('gzips when Accept-Encoding allows it, and not when it refuses', async () => {
    const { app } = testApp();
    await register(app, jsClientBody());
    const res = await app.request('/eureka/apps', {
      headers: { accept: 'application/json', 'accept-encoding': 'gzip, deflate' },
    });
    expect(res.headers.get('content-encoding')).toBe('gzip');
    const doc = JSON.parse(gunzipSync(Buffer.from(await res.arrayBuffer())).toString('utf8')) as Doc;
    expect(instancesOf(doc)[0]?.instanceId).toBe('js-host');
    const refused = await app.request('/eureka/apps', { headers: { 'accept-encoding': 'gzip;q=0' } });
    expect(refused.headers.get('content-encoding')).toBeNull();
    expect(await refused.text()).toContain('<applications>');
  });
});

describe('GET /eureka/apps/delta', () => {
  it('is the delta, not an application named DELTA, on both prefixes and with a trailing slash', async () => {
    const { app } = testApp();
    expect((await register(app, jsClientBody({ app: 'delta' }), '/eureka/apps/DELTA')).status).toBe(204);
    for (const path of ['/eureka/apps/delta', '/eureka/v2/apps/delta/']) {
      const doc = await getJson(app, path);
      expect(doc.applications.versions__delta).toBe('1');
      expect(instancesOf(doc).map((i) => i.actionType)).toEqual(['ADDED']);
    }
    expect((await app.request('/eureka/apps/DELTA', { headers: { accept: 'application/json' } })).status).toBe(200);
    // One regular expression matches every route (no literal beside a parameter): heartbeats pay no trie walk.
    expect((app.router as SmartRouter<unknown>).activeRouter.name).toBe('RegExpRouter');
  });

  it('lists the recent changes once each with actionType, and the WHOLE registry’s hash', async () => {
    const { app, clock } = testApp();
    await register(app, jsClientBody({ hostName: 'old' }));
    clock.advance(200_000); // the first registration leaves the 3-minute window
    await register(app, jsClientBody({ hostName: 'new' }));
    await register(app, jsClientBody({ hostName: 'new' })); // re-registration: one entry, MODIFIED
    await register(app, jsClientBody({ hostName: 'gone' }));
    await app.request('/eureka/apps/JSAPP/gone', { method: 'DELETE' });
    const delta = await getJson(app, '/eureka/apps/delta');
    expect(delta.applications.apps__hashcode).toBe('UP_2_');
    expect(delta.applications.versions__delta).toBe('5');
    expect(instancesOf(delta).map((i) => [i.instanceId, i.actionType])).toEqual([
      ['new', 'MODIFIED'],
      ['gone', 'DELETED'],
    ]);
  });

  it('applying a delta to the previous full fetch reproduces the new full fetch and its hash', async () => {
    const { app } = testApp();
    for (const host of ['a', 'b', 'c']) await register(app, jsClientBody({ hostName: host }));
    const before = await getJson(app, '/eureka/apps');

    await register(app, jsClientBody({ hostName: 'd' }));
    await app.request('/eureka/apps/JSAPP/b/status?value=OUT_OF_SERVICE', { method: 'PUT' });
    await app.request('/eureka/apps/JSAPP/c', { method: 'DELETE' });
    await register(app, jsClientBody({ hostName: 'e', app: 'other' }), '/eureka/apps/OTHER');

    const delta = await getJson(app, '/eureka/v2/apps/delta/');
    const after = await getJson(app, '/eureka/apps');
    // What a Java client does: ADDED/MODIFIED replace by id, DELETED removes; then it compares hashes.
    const local = new Map(instancesOf(before).map((i) => [`${i.app}/${i.instanceId}`, i]));
    for (const i of instancesOf(delta)) {
      if (i.actionType === 'DELETED') local.delete(`${i.app}/${i.instanceId}`);
      else local.set(`${i.app}/${i.instanceId}`, i);
    }
    const reconciled = appsHashCode(
      [...local.values()].map((i) => ({
        status: i.status as 'UP' | 'DOWN' | 'STARTING' | 'OUT_OF_SERVICE' | 'UNKNOWN',
      })),
    );
    expect(reconciled).toBe('OUT_OF_SERVICE_1_UP_3_');
    expect(delta.applications.apps__hashcode).toBe(reconciled);
    expect(after.applications.apps__hashcode).toBe(reconciled);
    const ids = (doc: Iterable<Instance>) => [...doc].map((i) => i.instanceId).sort();
    expect(ids(local.values())).toEqual(ids(instancesOf(after)));
  });

  it('drops changes older than 3 minutes even without a new change (no stale cached delta)', async () => {
    const { app, clock } = testApp();
    await register(app, jsClientBody());
    expect(instancesOf(await getJson(app, '/eureka/apps/delta'))).toHaveLength(1);
    clock.advance(180_001);
    expect(instancesOf(await getJson(app, '/eureka/apps/delta'))).toHaveLength(0);
    // The full registry still has it: only the delta window moved.
    expect((await fetchApps(app)).applications.application.flatMap((a) => a.instance)).toHaveLength(1);
  });

  it('answers XML and gzip like GET /apps', async () => {
    const { app } = testApp();
    await register(app, jsClientBody());
    const res = await app.request('/eureka/apps/delta', { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers.get('content-type')).toBe('application/xml');
    const text = gunzipSync(Buffer.from(await res.arrayBuffer())).toString('utf8');
    expect(text).toContain('<actionType>ADDED</actionType>');
    expect(text).toContain('<apps__hashcode>UP_1_</apps__hashcode>');
  });
});
