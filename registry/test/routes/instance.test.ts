import { describe, expect, it } from 'vitest';
import { SPRING_REGISTRATION_JSON } from '../eureka/fixtures.ts';
import { jsClientBody, listedIds, register, testApp } from '../helpers.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

const SPRING_ID = 'host.docker.internal:webservice:8082';
const SPRING_DIRTY = 1630906182808;

describe('GET /eureka/apps/:app/:id and /eureka/instances/:id', () => {
  it('answers the instance in JSON and XML', async () => {
    const { app } = testApp();
    await register(app, SPRING_REGISTRATION_JSON, '/eureka/apps/WEBSERVICE');
    const json = await app.request(`/eureka/apps/webservice/${SPRING_ID}`, { headers: { accept: 'application/json' } });
    expect(json.status).toBe(200);
    expect(((await json.json()) as { instance: { instanceId: string } }).instance.instanceId).toBe(SPRING_ID);
    const xml = await app.request(`/eureka/v2/instances/${SPRING_ID}/`);
    expect(xml.status).toBe(200);
    expect((await xml.text()).startsWith(`<instance>\n  <instanceId>${SPRING_ID}</instanceId>`)).toBe(true);
  });

  it('answers 404 with an empty body for unknown ids', async () => {
    const { app } = testApp();
    await register(app, jsClientBody());
    for (const path of ['/eureka/apps/JSAPP/nope', '/eureka/apps/NOPE/js-host', '/eureka/instances/nope']) {
      const res = await app.request(path);
      expect(res.status).toBe(404);
      expect(await res.text()).toBe('');
    }
  });
});

describe('PUT /eureka/apps/:app/:id (heartbeat)', () => {
  it('answers 200 with an empty body to eureka-js-client’s bare heartbeat and renews the lease', async () => {
    const { app, clock, registry } = testApp();
    await register(app, jsClientBody());
    clock.advance(30_000);
    const res = await app.request('/eureka/v2/apps/jsapp/js-host', { method: 'PUT' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(registry.instance('JSAPP', 'js-host')?.leaseInfo.lastRenewalTimestamp).toBe(clock.now);
  });

  it('answers 200 to Spring’s heartbeat with status and the same lastDirtyTimestamp', async () => {
    const { app } = testApp();
    await register(app, SPRING_REGISTRATION_JSON, '/eureka/apps/WEBSERVICE');
    const res = await app.request(`/eureka/apps/WEBSERVICE/${SPRING_ID}?status=UP&lastDirtyTimestamp=${SPRING_DIRTY}`, {
      method: 'PUT',
      headers: { accept: 'application/json' },
    });
    expect(res.status).toBe(200);
  });

  it('answers 404 for an unknown instance so the client re-registers', async () => {
    const { app } = testApp();
    const res = await app.request('/eureka/apps/JSAPP/js-host/', { method: 'PUT' });
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('');
  });

  it('answers 404 when the client’s lastDirtyTimestamp is newer than the registered one', async () => {
    const { app } = testApp();
    await register(app, SPRING_REGISTRATION_JSON, '/eureka/apps/WEBSERVICE');
    const res = await app.request(
      `/eureka/apps/WEBSERVICE/${SPRING_ID}?status=UP&lastDirtyTimestamp=${SPRING_DIRTY + 1}`,
      { method: 'PUT' },
    );
    expect(res.status).toBe(404);
  });

  it('answers 409 with the registry’s copy to a replica whose copy is older', async () => {
    const { app } = testApp();
    await register(app, SPRING_REGISTRATION_JSON, '/eureka/apps/WEBSERVICE');
    const res = await app.request(`/eureka/apps/WEBSERVICE/${SPRING_ID}?lastDirtyTimestamp=${SPRING_DIRTY - 1}`, {
      method: 'PUT',
      headers: { accept: 'application/json', 'x-netflix-discovery-replication': 'true' },
    });
    expect(res.status).toBe(409);
    const body = (await res.json()) as { instance: { instanceId: string; lastDirtyTimestamp: string } };
    expect(body.instance).toMatchObject({ instanceId: SPRING_ID, lastDirtyTimestamp: String(SPRING_DIRTY) });
  });

  it('answers 200, not 409, to a plain client whose copy is older', async () => {
    const { app } = testApp();
    await register(app, SPRING_REGISTRATION_JSON, '/eureka/apps/WEBSERVICE');
    const res = await app.request(`/eureka/apps/WEBSERVICE/${SPRING_ID}?lastDirtyTimestamp=${SPRING_DIRTY - 1}`, {
      method: 'PUT',
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ['status=ASLEEP', 'Invalid status "ASLEEP"'],
    ['overriddenstatus=NOPE', 'Invalid overriddenstatus "NOPE"'],
    ['lastDirtyTimestamp=yesterday', 'Invalid lastDirtyTimestamp "yesterday"'],
  ])('answers 400 for ?%s and does not renew', async (query, message) => {
    const { app, clock, registry } = testApp();
    await register(app, jsClientBody());
    const registered = clock.now;
    clock.advance(1000);
    const res = await app.request(`/eureka/apps/JSAPP/js-host?${query}`, { method: 'PUT' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(message);
    expect(registry.instance('JSAPP', 'js-host')?.leaseInfo.lastRenewalTimestamp).toBe(registered);
  });
});

describe('request log of the polling traffic', () => {
  it('logs accepted heartbeats and full or delta fetches at debug, a refused heartbeat and a registration at info', async () => {
    const { logger, text } = captureLogger();
    const { app } = testApp({ logger });
    await register(app, jsClientBody());
    expect((await app.request('/eureka/apps/JSAPP/js-host', { method: 'PUT' })).status).toBe(200);
    expect((await app.request('/eureka/apps/JSAPP/gone', { method: 'PUT' })).status).toBe(404);
    expect((await app.request('/eureka/apps/')).status).toBe(200);
    expect((await app.request('/eureka/apps/delta')).status).toBe(200);
    const completed = text()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { msg: string; level: number; req: { method: string; url: string } })
      .filter((line) => line.msg === 'request completed')
      .map((line) => [line.req.method, line.req.url, line.level]);
    expect(completed).toEqual([
      ['POST', '/eureka/apps/JSAPP', 30],
      ['PUT', '/eureka/apps/JSAPP/js-host', 20],
      ['PUT', '/eureka/apps/JSAPP/gone', 30],
      ['GET', '/eureka/apps/', 20],
      ['GET', '/eureka/apps/delta', 20],
    ]);
  });
});

describe('DELETE /eureka/apps/:app/:id (cancel)', () => {
  it('answers 200 and removes the instance; a second cancel answers 404', async () => {
    const { app } = testApp();
    await register(app, jsClientBody());
    const res = await app.request('/eureka/v2/apps/jsapp/js-host', { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await listedIds(app)).toEqual([]);
    expect((await app.request('/eureka/apps/JSAPP/js-host/', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('PUT and DELETE /eureka/apps/:app/:id/status', () => {
  it('sets an override that the served status follows, and heartbeats keep it', async () => {
    const { app, registry } = testApp();
    await register(app, jsClientBody());
    const put = await app.request('/eureka/apps/JSAPP/js-host/status?value=OUT_OF_SERVICE', { method: 'PUT' });
    expect(put.status).toBe(200);
    expect(await put.text()).toBe('');
    expect((await app.request('/eureka/apps/JSAPP/js-host', { method: 'PUT' })).status).toBe(200);
    expect(registry.instance('JSAPP', 'js-host')).toMatchObject({
      status: 'OUT_OF_SERVICE',
      overriddenStatus: 'OUT_OF_SERVICE',
    });
  });

  it('deletes the override and the instance’s own status is served again', async () => {
    const { app, registry } = testApp();
    await register(app, jsClientBody());
    await app.request('/eureka/apps/JSAPP/js-host/status?value=OUT_OF_SERVICE', { method: 'PUT' });
    const del = await app.request('/eureka/v2/apps/JSAPP/js-host/status/', { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect(registry.instance('JSAPP', 'js-host')).toMatchObject({ status: 'UP', overriddenStatus: 'UNKNOWN' });
  });

  it('answers 400 for a missing or invalid value and changes nothing', async () => {
    const { app, registry } = testApp();
    await register(app, jsClientBody());
    const version = registry.version;
    const missing = await app.request('/eureka/apps/JSAPP/js-host/status', { method: 'PUT' });
    expect(missing.status).toBe(400);
    expect(await missing.text()).toMatch(/^Missing value/);
    const invalid = await app.request('/eureka/apps/JSAPP/js-host/status?value=HAPPY', { method: 'PUT' });
    expect(invalid.status).toBe(400);
    expect(await invalid.text()).toMatch(/^Invalid value "HAPPY"/);
    const invalidDelete = await app.request('/eureka/apps/JSAPP/js-host/status?value=HAPPY', { method: 'DELETE' });
    expect(invalidDelete.status).toBe(400);
    expect(registry.version).toBe(version);
    expect(registry.instance('JSAPP', 'js-host')?.status).toBe('UP');
  });

  it('answers 404 for an unknown instance', async () => {
    const { app } = testApp();
    expect((await app.request('/eureka/apps/A/b/status?value=DOWN', { method: 'PUT' })).status).toBe(404);
    expect((await app.request('/eureka/apps/A/b/status', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('PUT /eureka/apps/:app/:id/metadata', () => {
  it('merges every query parameter into the metadata', async () => {
    const { app, registry } = testApp();
    await register(app, jsClientBody({ metadata: { zone: 'a' } }));
    const res = await app.request('/eureka/apps/JSAPP/js-host/metadata?version=2&__proto__=x&zone=b', {
      method: 'PUT',
    });
    expect(res.status).toBe(200);
    const metadata = registry.instance('JSAPP', 'js-host')?.metadata;
    expect(metadata).toEqual({ zone: 'b', version: '2', ['__proto__']: 'x' });
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
  });

  it('answers 404 for an unknown instance', async () => {
    const { app } = testApp();
    expect((await app.request('/eureka/apps/A/b/metadata?x=1', { method: 'PUT' })).status).toBe(404);
  });
});

describe('GET /eureka/vips/:vip and /eureka/svips/:svip', () => {
  it('lists instances whose comma-separated (secure) VIP address names the VIP, and an empty document otherwise', async () => {
    const { app } = testApp();
    await register(app, jsClientBody({ hostName: 'a', vipAddress: 'shop,shop-v2', secureVipAddress: 'shop-secure' }));
    await register(app, jsClientBody({ hostName: 'b', vipAddress: 'other', status: 'DOWN' }));
    const ids = async (path: string) => {
      const res = await app.request(path, { headers: { accept: 'application/json' } });
      expect(res.status).toBe(200);
      const doc = (await res.json()) as {
        applications: { apps__hashcode: string; application: { instance: { instanceId: string }[] }[] };
      };
      return [
        doc.applications.apps__hashcode,
        doc.applications.application.flatMap((a) => a.instance.map((i) => i.instanceId)),
      ];
    };
    expect(await ids('/eureka/vips/shop-v2')).toEqual(['UP_1_', ['a']]);
    expect(await ids('/eureka/v2/vips/other/')).toEqual(['DOWN_1_', ['b']]);
    expect(await ids('/eureka/svips/shop-secure')).toEqual(['UP_1_', ['a']]);
    expect(await ids('/eureka/vips/sho')).toEqual(['', []]);
    const xml = await app.request('/eureka/vips/nothing');
    expect(await xml.text()).toContain('<applications>');
  });
});
