// Names and texts the registry takes. Names decide things (where an instance is stored and limited, which instance a
// path reaches), so they are ASCII only and upper-cased by ASCII alone; texts are held to what XML 1.0 carries, since
// one `&#x0;` in GET /apps makes every Java XML client fail on the whole registry. Every refusal is a 400 with the
// reason and leaves the registry (served and stored) as it was.
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { EUREKA_PREFIXES } from '../../src/app.ts';
import { renderReplicationBatch } from '../../src/eureka/index.ts';
import { leanHeartbeat } from '../../src/routes/instance.ts';
import { persistRegistry } from '../../src/store/persistence.ts';
import { Registry } from '../../src/registry/registry.ts';
import { instance, jsClientBody, register, silentLogger, TestClock, testApp } from '../helpers.ts';

type TestApp = ReturnType<typeof testApp>;

async function snapshot(t: TestApp): Promise<unknown> {
  const res = await t.app.request('/eureka/apps', { headers: { accept: 'application/json' } });
  return { served: await res.text(), version: t.registry.version, stored: t.store.load() };
}

/** A registry holding the real PRODUCT-COMPOSITE instance, and what it looked like before the test's request. */
async function seeded() {
  const t = testApp();
  const real = jsClientBody({ app: 'product-composite', hostName: 'pc-1', vipAddress: 'product-composite' });
  expect((await register(t.app, real, '/eureka/apps/product-composite')).status).toBe(204);
  return { t, before: await snapshot(t) };
}

// Each of these upper-cases (toUpperCase) or lower-cases into an ASCII name another application may hold.
const LOOKALIKES: [string, string][] = [
  ['ſ (U+017F, upper-cases to S)', 'product-compo\u017fite'],
  ['ı (U+0131, upper-cases to I)', 'product-compos\u0131te'],
  ['ﬀ (U+FB00, upper-cases to FF)', 'sta\ufb00'],
  ['K (U+212A, Kelvin sign)', 'product-composite-\u212a'],
  ['ｐ (U+FF50, fullwidth)', '\uff50roduct-composite'],
  ['a space', 'product composite'],
  ['a slash', 'product/composite'],
];

describe('application names and instance ids', () => {
  it.each(LOOKALIKES)('refuses an app name with %s in the path with 400 and the reason', async (_label, name) => {
    const { t, before } = await seeded();
    const body = jsClientBody({ app: name, hostName: 'evil' });
    const res = await register(t.app, body, `/eureka/apps/${encodeURIComponent(name)}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(
      /^Invalid app: only ASCII letters, digits, '-', '_' and '\.' are allowed \(refused U\+[0-9A-F]{4} at \d+\)$/,
    );
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses ſ in the body app under an ASCII path, and in an instance id', async () => {
    const { t, before } = await seeded();
    const byBody = await register(
      t.app,
      jsClientBody({ app: 'product-compo\u017fite', hostName: 'evil' }),
      '/eureka/apps/PRODUCT-COMPOSITE',
    );
    expect(byBody.status).toBe(400);
    expect(await byBody.text()).toMatch(/^Invalid app: .*\(refused U\+017F at 13\)$/);
    const byId = await register(
      t.app,
      jsClientBody({ app: 'product-composite', hostName: 'evil', instanceId: 'pc-\u0131' }),
      '/eureka/apps/product-composite',
    );
    expect(byId.status).toBe(400);
    expect(await byId.text()).toMatch(
      /^Invalid instanceId: only ASCII letters, digits, '-', '_', '\.', ':' and '@' are allowed \(refused U\+0131 at 3\)$/,
    );
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses "." and ".." as an app name or instance id, which no URL path can reach (the API document says so)', async () => {
    const { t, before } = await seeded();
    for (const name of ['.', '..']) {
      const asId = await register(t.app, jsClientBody({ instanceId: name }), '/eureka/apps/JSAPP');
      expect(asId.status).toBe(400);
      expect(await asId.text()).toBe(`Invalid instanceId: "." and ".." cannot be a path segment`);
      // In a path (even as %2E) every URL parser resolves it away; the body's app is checked before it is compared.
      const asApp = await register(t.app, jsClientBody({ app: name }), '/eureka/apps/JSAPP');
      expect(asApp.status).toBe(400);
      expect(await asApp.text()).toBe(`Invalid app: "." and ".." cannot be a path segment`);
    }
    expect(await snapshot(t)).toEqual(before);
  });

  it('never lets a look-alike path read, renew, change or cancel another application', async () => {
    const { t, before } = await seeded();
    const app = 'product-compo%C5%BFite';
    for (const [method, path] of [
      ['GET', `/eureka/apps/${app}`],
      ['GET', `/eureka/apps/${app}/pc-1`],
      ['PUT', `/eureka/apps/${app}/pc-1`],
      ['DELETE', `/eureka/apps/${app}/pc-1`],
      ['PUT', `/eureka/apps/${app}/pc-1/status?value=OUT_OF_SERVICE`],
      ['DELETE', `/eureka/apps/${app}/pc-1/status`],
      ['PUT', `/eureka/apps/${app}/pc-1/metadata?zone=evil`],
    ] as const) {
      const res = await t.app.request(path, { method, headers: { accept: 'application/json' } });
      expect([method, path, res.status]).toEqual([method, path, 400]);
      expect(await res.text()).toMatch(/refused U\+017F at 13/);
    }
    // The lean heartbeat (the hot path, outside hono) leaves it to the route above instead of renewing PRODUCT-COMPOSITE.
    const lean = leanHeartbeat({ registry: t.registry, prefixes: EUREKA_PREFIXES });
    expect(lean.answer({ path: `/eureka/apps/${app}/pc-1`, search: '', headers: {} } as never)).toBeUndefined();
    expect(lean.answer({ path: '/eureka/apps/product-composite/pc-1', search: '', headers: {} } as never)).toEqual({
      status: 200,
      logLevel: 'debug',
    });
    expect(await snapshot(t)).toEqual({ ...(before as object), stored: t.store.load() });
  });

  it('answers GET /instances/{ID} and /vips/{VIP} with a non-ASCII name with 400, not a look-alike', async () => {
    const { t } = await seeded();
    const byId = await t.app.request('/eureka/instances/pc-%C4%B1', { headers: { accept: 'application/json' } });
    expect(byId.status).toBe(400);
    expect(await byId.text()).toMatch(/^Invalid instanceId: .*\(refused U\+0131 at 3\)$/);
    for (const path of [
      '/eureka/vips/product-compo%C5%BFite',
      '/eureka/svips/product-compo%C5%BFite',
      '/eureka/vips/a%00',
    ]) {
      const res = await t.app.request(path, { headers: { accept: 'application/json' } });
      expect([path, res.status]).toEqual([path, 400]);
      expect(await res.text()).toMatch(/^Invalid VIP address: /);
    }
    const real = await t.app.request('/eureka/vips/product-composite', { headers: { accept: 'application/json' } });
    expect(real.status).toBe(200);
    expect(await real.text()).toContain('"instanceId":"pc-1"');
  });

  it('refuses a vipAddress or secureVipAddress that is not a list of ASCII names', async () => {
    const { t, before } = await seeded();
    for (const [field, value] of [
      ['vipAddress', 'product-compo\u017fite'],
      ['secureVipAddress', 'a,\u0000'],
      ['vipAddress', 'a;b'],
    ] as const) {
      const res = await register(t.app, jsClientBody({ hostName: 'h2', [field]: value }));
      expect([field, res.status]).toEqual([field, 400]);
      expect(await res.text()).toMatch(new RegExp(`^Invalid ${field}: `));
    }
    // What Spring and old Netflix clients send: the app name, or a list of them with ports.
    const list = await register(t.app, jsClientBody({ hostName: 'h3', vipAddress: 'jsapp, jsapp.example.com:7001' }));
    expect(list.status).toBe(204);
    expect(before).not.toEqual(await snapshot(t));
  });

  it('refuses an instance id, host name or app over 256 characters with 400, so every instance stays deletable', async () => {
    const { t, before } = await seeded();
    const long = 'h'.repeat(257);
    for (const [body, reason] of [
      [
        jsClientBody({ hostName: 'h2', instanceId: 'i'.repeat(10_000) }),
        'instanceId is 10000 characters long; at most 256 are allowed',
      ],
      // eureka-js-client sends no instanceId: the host name is the id.
      [jsClientBody({ hostName: long }), 'instanceId is 257 characters long; at most 256 are allowed'],
      [
        jsClientBody({ hostName: long, instanceId: 'short' }),
        'hostName is 257 characters long; at most 256 are allowed',
      ],
    ] as const) {
      const res = await register(t.app, body);
      expect(res.status).toBe(400);
      expect(await res.text()).toBe(reason);
    }
    const app = 'a'.repeat(257);
    const byApp = await register(t.app, jsClientBody({ app, hostName: 'h2' }), `/eureka/apps/${app}`);
    expect(byApp.status).toBe(400);
    expect(await byApp.text()).toBe('app is 257 characters long; at most 256 are allowed');
    expect(await snapshot(t)).toEqual(before);
    // 256 is enough for a Kubernetes pod's FQDN, the app and the port, and such an instance can be cancelled.
    const id = `${'p'.repeat(200)}.ns.svc.cluster.local:jsapp:8080`.slice(0, 256);
    expect((await register(t.app, jsClientBody({ hostName: 'h2', instanceId: id }))).status).toBe(204);
    expect((await t.app.request(`/eureka/apps/JSAPP/${id}`, { method: 'DELETE' })).status).toBe(200);
  });
});

describe('texts XML 1.0 cannot carry', () => {
  const BAD = ['\u0000', '\u0001', '\n', '\r', '\t', '\u007f', '\u0085', '\ud800', '\udfff', '\ufffe', '\uffff'];

  it('refuses the instance id "a\\u0000\\n\\r" with 400, and GET /apps stays readable XML', async () => {
    const { t, before } = await seeded();
    const res = await register(t.app, jsClientBody({ hostName: 'h2', instanceId: 'a\u0000\n\r' }));
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^Invalid instanceId: .*\(refused U\+0000 at 1\)$/);
    expect(await snapshot(t)).toEqual(before);
    const xml = await (await t.app.request('/eureka/apps')).text();
    expect(XMLValidator.validate(xml)).toBe(true);
    expect(xml).not.toMatch(/&#x0*[0-8bcef];|&#x1[0-9a-f];/i);
  });

  it.each(BAD.map((char) => [`U+${char.charCodeAt(0).toString(16).padStart(4, '0')}`, char]))(
    'refuses %s in any instance text or metadata key or value with 400',
    async (_label, char) => {
      const { t, before } = await seeded();
      const bodies = [
        { hostName: `h${char}`, instanceId: 'h2' },
        { hostName: 'h2', ipAddr: `10.0.0.1${char}` },
        { hostName: 'h2', homePageUrl: `http://h2/${char}` },
        { hostName: 'h2', statusPageUrl: `http://h2/${char}` },
        { hostName: 'h2', healthCheckUrl: `http://h2/${char}` },
        { hostName: 'h2', secureHealthCheckUrl: `https://h2/${char}` },
        { hostName: 'h2', sid: char },
        { hostName: 'h2', asgName: `asg${char}` },
        { hostName: 'h2', appGroupName: `group${char}` },
        { hostName: 'h2', metadata: { zone: `a${char}` } },
        { hostName: 'h2', metadata: { [`zone${char}`]: 'a' } },
        {
          hostName: 'h2',
          dataCenterInfo: {
            '@class': 'com.netflix.appinfo.AmazonInfo',
            name: 'Amazon',
            metadata: { 'instance-id': 'i-1', 'public-hostname': `x${char}` },
          },
        },
      ];
      for (const body of bodies) {
        const res = await register(t.app, jsClientBody(body));
        expect([body, res.status]).toEqual([body, 400]);
        expect(await res.text()).toMatch(
          /^Invalid .*: control characters, lone surrogates and U\+FFFE\/U\+FFFF are not allowed \(refused U\+[0-9A-F]{4} at \d+\)$/,
        );
      }
      expect(await snapshot(t)).toEqual(before);
    },
  );

  it('refuses a control character sent as a character reference in an XML registration', async () => {
    const { t, before } = await seeded();
    const xml =
      '<instance><hostName>h2</hostName><app>JSAPP</app><ipAddr>10.0.0.2</ipAddr><status>UP</status>' +
      '<metadata><zone>a&#xd;b</zone></metadata>' +
      '<dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"><name>MyOwn</name></dataCenterInfo>' +
      '</instance>';
    const res = await t.app.request('/eureka/apps/JSAPP', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: xml,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/^Invalid metadata\.zone: .*\(refused U\+000D at 1\)$/);
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses a control character in PUT …/metadata keys and values with 400', async () => {
    const { t, before } = await seeded();
    for (const query of ['zone=a%00', 'zo%0Ane=a', 'zone=%0D', 'zone=%EF%BF%BF']) {
      const res = await t.app.request(`/eureka/apps/product-composite/pc-1/metadata?${query}`, { method: 'PUT' });
      expect([query, res.status]).toEqual([query, 400]);
      expect(await res.text()).toMatch(/^Invalid metadata/);
    }
    expect(await snapshot(t)).toEqual(before);
  });

  it('refuses such texts and names in a peer batch, item by item', async () => {
    const { t, before } = await seeded();
    const bad = { ...instance('PRODUCT-COMPOSITE', 'pc-2'), metadata: { zone: 'a\u0000' } };
    const folded = { ...instance('PRODUCT-COMPOSITE', 'pc-3'), app: 'PRODUCT-COMPO\u017fITE' };
    const body = renderReplicationBatch([
      { action: 'Register', appName: 'PRODUCT-COMPOSITE', id: 'pc-2', instanceInfo: bad },
      { action: 'Register', appName: 'PRODUCT-COMPO\u017fITE', id: 'pc-3', instanceInfo: folded },
      { action: 'Cancel', appName: 'product-compo\u017fite', id: 'pc-1' },
      { action: 'Cancel', appName: 'PRODUCT-COMPOSITE', id: 'pc-1\u0000' },
    ]);
    const res = await t.app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-netflix-discovery-replication': 'true' },
      body,
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      responseList: [{ statusCode: 400 }, { statusCode: 400 }, { statusCode: 400 }, { statusCode: 400 }],
    });
    expect(await snapshot(t)).toEqual(before);
  });

  it('drops a stored instance with such a text at restart, from the store too, even without limits', () => {
    const clock = new TestClock();
    const { store } = testApp();
    const good = instance('SHOP', 'good');
    const lease = (i: typeof good) => ({
      instance: i,
      overriddenStatus: 'UNKNOWN' as const,
      registrationTimestamp: clock.now,
      lastRenewalTimestamp: clock.now,
      serviceUpTimestamp: clock.now,
      actionType: 'ADDED' as const,
    });
    store.save(lease(good), 1);
    store.save(lease({ ...instance('SHOP', 'bad'), instanceId: 'a\u0000\n\r' }), 2);
    store.save(lease({ ...instance('SHOP', 'meta'), metadata: { zone: '\ud800' } }), 3);
    store.save(lease({ ...instance('SHOP', 'folded'), app: 'SHOP-\u017f' }), 4);
    const registry = new Registry({ clock: clock.read });
    persistRegistry({ registry, store, log: silentLogger() });
    expect(registry.applications().flatMap((a) => a.instances.map((i) => i.instanceId))).toEqual(['good']);
    expect(store.load().leases.map((l) => l.instance.instanceId)).toEqual(['good']);
  });
});
