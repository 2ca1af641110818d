// Bad input: a clear 4xx with a reason, and the registry (served and stored) exactly as it was before.
import { describe, expect, it } from 'vitest';
import { jsClientBody, register, testApp } from '../helpers.ts';

async function snapshot(t: ReturnType<typeof testApp>): Promise<unknown> {
  const res = await t.app.request('/eureka/apps', { headers: { accept: 'application/json' } });
  return { served: await res.text(), version: t.registry.version, stored: t.store.load() };
}

async function seeded() {
  const t = testApp();
  await register(t.app, jsClientBody());
  return { t, before: await snapshot(t) };
}

describe('bad registrations leave the registry unchanged', () => {
  it.each([
    ['malformed JSON', 'application/json', '{"instance":{"app":"JSAPP",', /^Malformed JSON body/],
    ['JSON of the wrong shape', 'application/json', '[1,2,3]', /^Malformed JSON body: expected \{"instance"/],
    ['malformed XML', 'application/xml', '<instance><app>JSAPP</app>', /^Malformed XML body/],
    ['XML with a DOCTYPE', 'application/xml', '<!DOCTYPE x [<!ENTITY a "b">]><instance/>', /DOCTYPE is not allowed/],
    ['an empty body', 'application/json', '', /^Malformed JSON body/],
  ])('%s → 400 with the reason', async (_name, type, body, reason) => {
    const { t, before } = await seeded();
    const res = await t.app.request('/eureka/apps/JSAPP', { method: 'POST', headers: { 'content-type': type }, body });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(reason);
    expect(await snapshot(t)).toEqual(before);
  });

  it('a missing field → 400 naming it', async () => {
    const { t, before } = await seeded();
    const res = await register(t.app, jsClientBody({ hostName: 'h2', ipAddr: null }));
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('Missing ip address');
    expect(await snapshot(t)).toEqual(before);
  });

  it('an invalid status in the body → 400', async () => {
    const { t, before } = await seeded();
    const res = await register(t.app, jsClientBody({ status: 'RUNNING' }));
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('Invalid status RUNNING');
    expect(await snapshot(t)).toEqual(before);
  });

  it('a body over 1 MiB → 413 before it is read', async () => {
    const { t, before } = await seeded();
    const huge = JSON.stringify(jsClientBody({ hostName: 'h2', metadata: { pad: 'x'.repeat(1024 * 1024) } }));
    const res = await register(t.app, huge, '/eureka/apps/JSAPP', {
      'content-length': String(Buffer.byteLength(huge)),
    });
    expect(res.status).toBe(413);
    expect(await snapshot(t)).toEqual(before);
  });

  it('a 1 MiB+ body without a length header → 413 too', async () => {
    const { t, before } = await seeded();
    const huge = JSON.stringify(jsClientBody({ hostName: 'h2', metadata: { pad: 'x'.repeat(1024 * 1024) } }));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(huge));
        controller.close();
      },
    });
    const res = await t.app.request('/eureka/apps/JSAPP', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    expect(await snapshot(t)).toEqual(before);
  });
});

describe('bad parameters leave the registry unchanged', () => {
  it.each([
    ['PUT', '/eureka/apps/JSAPP/js-host/status?value=MAYBE'],
    ['PUT', '/eureka/apps/JSAPP/js-host/status'],
    ['PUT', '/eureka/apps/JSAPP/js-host/status?value=DOWN&lastDirtyTimestamp=-1'],
    ['DELETE', '/eureka/apps/JSAPP/js-host/status?value=MAYBE'],
    ['PUT', '/eureka/apps/JSAPP/js-host?overriddenstatus=MAYBE'],
  ])('%s %s → 400', async (method, path) => {
    const { t, before } = await seeded();
    const res = await t.app.request(path, { method });
    expect(res.status).toBe(400);
    expect((await res.text()).length).toBeGreaterThan(0);
    expect(await snapshot(t)).toEqual(before);
  });

  it.each([
    ['PUT', '/eureka/apps/JSAPP/ghost'],
    ['DELETE', '/eureka/apps/JSAPP/ghost'],
    ['PUT', '/eureka/apps/GHOST/js-host/status?value=DOWN'],
    ['DELETE', '/eureka/apps/JSAPP/ghost/status'],
    ['PUT', '/eureka/apps/JSAPP/ghost/metadata?a=b'],
  ])('%s %s (unknown) → 404', async (method, path) => {
    const { t, before } = await seeded();
    expect((await t.app.request(path, { method })).status).toBe(404);
    expect(await snapshot(t)).toEqual(before);
  });
});

describe('bodies that are not UTF-8, or XML character references to what XML cannot carry, are refused', () => {
  // What the JSON and XML registrations below wrap around the host name, as bytes.
  function jsonBytes(hostName: Uint8Array): Uint8Array {
    const [head, tail] = JSON.stringify(jsClientBody({ hostName: 'HOST', instanceId: 'h2' })).split('HOST');
    return Buffer.concat([Buffer.from(head ?? ''), hostName, Buffer.from(tail ?? '')]);
  }
  function xmlBytes(hostName: Uint8Array): Uint8Array {
    return Buffer.concat([
      Buffer.from('<instance><instanceId>h2</instanceId><app>JSAPP</app><hostName>'),
      hostName,
      Buffer.from(
        '</hostName><ipAddr>10.0.0.2</ipAddr><dataCenterInfo class="com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo"><name>MyOwn</name></dataCenterInfo></instance>',
      ),
    ]);
  }

  it.each([
    ['JSON', 'application/json', jsonBytes],
    ['XML', 'application/xml', xmlBytes],
  ])('a %s registration with bytes that are not UTF-8 → 400, nothing stored', async (_name, type, wrap) => {
    const { t, before } = await seeded();
    for (const bad of [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]]) {
      const body = wrap(Buffer.from([0x68, ...bad, 0x78]));
      const res = await t.app.request('/eureka/apps/JSAPP', {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toBe('Malformed body: it is not valid UTF-8');
    }
    expect(await snapshot(t)).toEqual(before);
    // The same body in UTF-8 is taken: only the bytes were wrong.
    const good = wrap(Buffer.from('hÿx'));
    const res = await t.app.request('/eureka/apps/JSAPP', {
      method: 'POST',
      headers: { 'content-type': type },
      body: good,
    });
    expect(res.status).toBe(204);
    expect(t.registry.instance('JSAPP', 'h2')?.hostName).toBe('hÿx');
  });

  it.each(['&#0;', '&#1;', '&#x1F;', '&#xD800;', '&#xdfff;', '&#x110000;', '&#99999999999999999999;', '&#xFFFE;'])(
    'an XML character reference %s → 400 naming it, nothing stored',
    async (reference) => {
      const { t, before } = await seeded();
      const body = xmlBytes(Buffer.from(`h${reference}x`));
      const res = await t.app.request('/eureka/apps/JSAPP', {
        method: 'POST',
        headers: { 'content-type': 'application/xml' },
        body,
      });
      expect(res.status).toBe(400);
      const reason = await res.text();
      expect(reason).toMatch(
        /^Malformed XML body: the character reference &#[0-9a-fA-Fx]+(;|…) is not allowed in XML$/,
      );
      expect(await snapshot(t)).toEqual(before);
    },
  );

  it('XML character references to XML characters are read, and &#0; inside CDATA or a comment is text', async () => {
    const { t } = await seeded();
    const body = xmlBytes(Buffer.from('h&#65;&#233;&#x1F600;<![CDATA[&#0;]]><!-- &#0; -->x'));
    const res = await t.app.request('/eureka/apps/JSAPP', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body,
    });
    expect(res.status).toBe(204);
    expect(t.registry.instance('JSAPP', 'h2')?.hostName).toBe('hAé😀&#0;x');
  });
});

describe('PUT /eureka/apps/{APP}/{ID}/metadata refuses what the document does not take', () => {
  it.each([
    // The fuzz finding: a key given more than once (the document's entries are an object, which cannot repeat one).
    [
      '/eureka/apps/JSAPP/js-host/metadata?%C3%96%C3%A2%23=null&g%C2%BFu=true&g%C2%BFu=false',
      /^Invalid query: a key is given more than once$/,
    ],
    ['/eureka/apps/JSAPP/js-host/metadata?zone=a&zone=b', /^Invalid query: a key is given more than once$/],
    ['/eureka/apps/JSAPP/js-host/metadata?zone=%01', /^Invalid metadata\.zone: control characters/],
  ])('%s → 400 with the reason, nothing changed', async (path, reason) => {
    const { t, before } = await seeded();
    const res = await t.app.request(path, { method: 'PUT' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(reason);
    expect(await snapshot(t)).toEqual(before);
  });

  it('takes any key a registration takes (Eureka does), `my key`, `prometheus.io/scrape` and `Öâ#` included, and serves it back through XML', async () => {
    const { t } = await seeded();
    const path =
      '/eureka/apps/JSAPP/js-host/metadata?management.port=8081&my%20key=1&prometheus.io%2Fscrape=true&%C3%96%C3%A2%23=2';
    expect((await t.app.request(path, { method: 'PUT' })).status).toBe(200);
    const expected = { 'management.port': '8081', 'my key': '1', 'prometheus.io/scrape': 'true', 'Öâ#': '2' };
    expect(t.registry.instance('JSAPP', 'js-host')?.metadata).toEqual(expected);
    const xml = await (
      await t.app.request('/eureka/apps/JSAPP/js-host', { headers: { accept: 'application/xml' } })
    ).text();
    const back = await t.app.request('/eureka/apps/JSAPP', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: xml.replace('<instanceId>js-host</instanceId>', '<instanceId>h2</instanceId>'),
    });
    expect(back.status).toBe(204);
    expect(t.registry.instance('JSAPP', 'h2')?.metadata).toEqual(expected);
  });
});
