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
