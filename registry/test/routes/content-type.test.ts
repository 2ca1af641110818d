// Write bodies must be declared JSON or XML. A web page can POST text/plain, a form or an untyped Blob to any origin
// without a CORS preflight (and a browser adds the registry credentials it holds), so a registry that reads such
// bodies can be made to register by any page its operator visits.
import { describe, expect, it } from 'vitest';
import { renderReplicationBatch } from '../../src/eureka/index.ts';
import { instance, jsClientBody, register, testApp } from '../helpers.ts';
import { SPRING_REGISTRATION_JSON, SPRING_REGISTRATION_XML } from '../eureka/fixtures.ts';

async function snapshot(t: ReturnType<typeof testApp>): Promise<unknown> {
  const res = await t.app.request('/eureka/apps', { headers: { accept: 'application/json' } });
  return { served: await res.text(), version: t.registry.version, stored: t.store.load() };
}

const WRITE = { user: 'eureka', password: 'secret' } as const;
const AUTH = { authorization: `Basic ${Buffer.from('eureka:secret').toString('base64')}` };

describe('POST bodies that are not JSON or XML', () => {
  it.each([
    ['text/plain', 'text/plain;charset=UTF-8'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['no Content-Type (an untyped Blob)', undefined],
    ['a type that merely mentions json', 'text/plain; note=json'],
    ['two types', 'text/plain, application/json'],
  ])('refuses a registration sent as %s with 415 and the reason, with valid credentials too', async (_label, type) => {
    const t = testApp({ writeAuth: { scheme: 'basic', ...WRITE } });
    const before = await snapshot(t);
    const res = await t.app.request('/eureka/apps/JSAPP', {
      method: 'POST',
      headers: { ...AUTH, ...(type === undefined ? {} : { 'content-type': type }) },
      body: new Blob([JSON.stringify(jsClientBody())]),
    });
    expect(res.status).toBe(415);
    expect(await res.text()).toMatch(/^Unsupported body with .*: send application\/json or application\/xml$/);
    expect(await snapshot(t)).toEqual(before);
  });

  it('answers a POST to a path no POST route serves with 405 and Allow, whatever its body (found by the fuzz test)', async () => {
    const t = testApp({ writeAuth: { scheme: 'basic', ...WRITE } });
    for (const path of ['/eureka/apps', '/eureka/instances/x', '/eureka/vips/x', '/eureka/apps/A/b/metadata']) {
      const res = await t.app.request(path, { method: 'POST', headers: AUTH });
      expect(res.status, path).toBe(405);
      expect(res.headers.get('allow'), path).not.toContain('POST');
    }
    // Where POST is served, an undeclared body is still refused before anything reads it.
    expect((await t.app.request('/eureka/apps/A', { method: 'POST', headers: AUTH })).status).toBe(415);
  });

  it('refuses a peer batch sent as text/plain with 415, yet takes JSON and XML as Spring, eureka-js-client and peers send them', async () => {
    const t = testApp();
    const before = await snapshot(t);
    const res = await t.app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-netflix-discovery-replication': 'true' },
      body: renderReplicationBatch([
        { action: 'Register', appName: 'SHOP', id: 's-1', instanceInfo: instance('SHOP', 's-1') },
      ]),
    });
    expect(res.status).toBe(415);
    expect(await snapshot(t)).toEqual(before);
    // Then what real clients send, also with parameters and as +json/+xml.
    for (const [type, body] of [
      ['application/json', SPRING_REGISTRATION_JSON],
      ['application/json; charset=utf-8', SPRING_REGISTRATION_JSON],
      ['Application/JSON', SPRING_REGISTRATION_JSON],
      ['application/vnd.eureka+json', SPRING_REGISTRATION_JSON],
      ['application/xml', SPRING_REGISTRATION_XML],
      ['text/xml; charset=UTF-8', SPRING_REGISTRATION_XML],
      ['application/vnd.eureka+xml', SPRING_REGISTRATION_XML],
    ] as const) {
      const accepted = await t.app.request('/eureka/apps/WEBSERVICE', {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      });
      expect([type, accepted.status]).toEqual([type, 204]);
    }
    expect((await register(t.app, jsClientBody())).status).toBe(204);
  });

  it('refuses a PUT that declares a body of another type, not heartbeats, status and metadata PUTs or cancels without one', async () => {
    const t = testApp();
    expect((await register(t.app, jsClientBody())).status).toBe(204);
    const res = await t.app.request('/eureka/apps/JSAPP/js-host/metadata?zone=b', {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'content-length': '3' },
      body: 'abc',
    });
    expect(res.status).toBe(415);
    expect(t.registry.instance('JSAPP', 'js-host')?.metadata).toEqual({});
    for (const [method, path] of [
      ['PUT', '/eureka/apps/JSAPP/js-host'],
      ['PUT', '/eureka/apps/JSAPP/js-host/status?value=OUT_OF_SERVICE'],
      ['PUT', '/eureka/apps/JSAPP/js-host/metadata?zone=a'],
      ['DELETE', '/eureka/apps/JSAPP/js-host/status'],
      ['DELETE', '/eureka/apps/JSAPP/js-host'],
    ] as const) {
      const bodiless = await t.app.request(path, {
        method,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' },
      });
      expect([method, path, bodiless.status]).toEqual([method, path, 200]);
    }
  });
});
