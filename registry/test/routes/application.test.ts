import { describe, expect, it } from 'vitest';
import { SPRING_REGISTRATION_JSON, SPRING_REGISTRATION_XML } from '../eureka/fixtures.ts';
import { fetchApps, jsClientBody, listedIds, register, testApp } from '../helpers.ts';

describe('POST /eureka/apps/:app', () => {
  it('registers the recorded Spring body with 204 and an empty body, and lists it', async () => {
    const { app } = testApp();
    const res = await register(app, SPRING_REGISTRATION_JSON, '/eureka/apps/WEBSERVICE');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const apps = await fetchApps(app);
    const [application] = apps.applications.application;
    expect(application?.name).toBe('WEBSERVICE');
    expect(application?.instance[0]).toMatchObject({
      instanceId: 'host.docker.internal:webservice:8082',
      status: 'UP',
      port: { $: 8082, '@enabled': 'true' },
      metadata: { 'management.port': '8082' },
      actionType: 'ADDED',
    });
  });

  it('registers eureka-js-client’s body: lower-case app in the path, boolean @enabled, id from the host name', async () => {
    const { app } = testApp();
    const res = await register(app, jsClientBody(), '/eureka/v2/apps/jsapp');
    expect(res.status).toBe(204);
    const apps = await fetchApps(app);
    expect(apps.applications.application[0]?.name).toBe('JSAPP');
    expect(apps.applications.application[0]?.instance[0]).toMatchObject({
      instanceId: 'js-host',
      app: 'JSAPP',
      port: { $: 3000, '@enabled': 'true' },
      leaseInfo: { durationInSecs: 90, renewalIntervalInSecs: 30 },
    });
  });

  it('registers an XML body', async () => {
    const { app } = testApp();
    const res = await app.request('/eureka/apps/WEBSERVICE', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: SPRING_REGISTRATION_XML,
    });
    expect(res.status).toBe(204);
    expect(await listedIds(app)).toEqual(['host.docker.internal:webservice:8082']);
  });

  it('tolerates a trailing slash and the /eureka/v2 prefix', async () => {
    const { app } = testApp();
    expect((await register(app, jsClientBody(), '/eureka/v2/apps/jsapp/')).status).toBe(204);
    expect((await register(app, jsClientBody({ hostName: 'other' }), '/eureka/apps/JSAPP/')).status).toBe(204);
    expect(await listedIds(app)).toEqual(['js-host', 'other']);
  });

  it('stamps the lease: registration and renewal time from the clock, serviceUp when UP', async () => {
    const { app, clock } = testApp();
    await register(app, jsClientBody());
    const inst = (await fetchApps(app)).applications.application[0]?.instance[0];
    expect(inst?.['leaseInfo']).toEqual({
      renewalIntervalInSecs: 30,
      durationInSecs: 90,
      registrationTimestamp: clock.now,
      lastRenewalTimestamp: clock.now,
      evictionTimestamp: 0,
      serviceUpTimestamp: clock.now,
    });
  });

  it.each([
    ['instanceId (no id, no host name to fall back on)', { hostName: null }, 'Missing instanceId'],
    ['hostName', { instanceId: 'i-1', hostName: null }, 'Missing hostname'],
    ['app', { app: null }, 'Missing appName'],
    ['ipAddr', { ipAddr: '' }, 'Missing ip address'],
    ['dataCenterInfo', { dataCenterInfo: null }, 'Missing dataCenterInfo'],
    ['dataCenterInfo.name', { dataCenterInfo: { '@class': 'x' } }, 'Missing dataCenterInfo Name'],
    ['status', { status: 'SLEEPING' }, 'Invalid status SLEEPING'],
  ])('answers 400 naming %s and registers nothing', async (_field, override, message) => {
    const { app, registry } = testApp();
    const res = await register(app, jsClientBody(override));
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(message);
    expect(registry.size).toBe(0);
    expect(registry.version).toBe(0);
  });

  it('marks a registration sent with x-netflix-discovery-replication: true as replicated', async () => {
    const { app, registry } = testApp();
    const replicated: boolean[] = [];
    registry.onChange((c) => replicated.push(c.replicated));
    await register(app, jsClientBody(), '/eureka/apps/JSAPP', { 'x-netflix-discovery-replication': 'true' });
    await register(app, jsClientBody({ hostName: 'h2' }));
    expect(replicated).toEqual([true, false]);
  });

  it('answers 400 when the body’s app differs from the path’s', async () => {
    const { app, registry } = testApp();
    const res = await register(app, jsClientBody(), '/eureka/apps/OTHER');
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('Mismatched appName, expecting OTHER but was JSAPP');
    expect(registry.size).toBe(0);
  });
});

describe('GET /eureka/apps/:app', () => {
  it('answers the application in JSON and XML, upper-casing the name', async () => {
    const { app } = testApp();
    await register(app, jsClientBody());
    const json = await app.request('/eureka/apps/jsapp', { headers: { accept: 'application/json' } });
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe('application/json');
    const body = (await json.json()) as { application: { name: string; instance: { instanceId: string }[] } };
    expect(body.application.name).toBe('JSAPP');
    expect(body.application.instance.map((i) => i.instanceId)).toEqual(['js-host']);
    const xml = await app.request('/eureka/v2/apps/JSAPP/');
    expect(xml.status).toBe(200);
    expect(xml.headers.get('content-type')).toBe('application/xml');
    const text = await xml.text();
    expect(text.startsWith('<application>\n  <name>JSAPP</name>')).toBe(true);
    expect(text).toContain('<instanceId>js-host</instanceId>');
  });

  it('answers 404 with an empty body for an unknown application', async () => {
    const { app } = testApp();
    const res = await app.request('/eureka/apps/NOPE');
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('');
  });
});
