import { describe, expect, it } from 'vitest';
import { parseCredential } from '../../src/auth/credentials.ts';
import { renderReplicationBatch } from '../../src/eureka/index.ts';
import { jsClientBody, register, testApp } from '../helpers.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

const WRITE = 'basic:eureka:wr1te-Secret';
const AUTH = { authorization: `Basic ${Buffer.from('eureka:wr1te-Secret').toString('base64')}` };

const WRITES: readonly [string, string][] = [
  ['PUT', '/eureka/apps/JSAPP/js-host'],
  ['DELETE', '/eureka/apps/JSAPP/js-host'],
  ['PUT', '/eureka/apps/JSAPP/js-host/status?value=DOWN'],
  ['DELETE', '/eureka/apps/JSAPP/js-host/status'],
  ['PUT', '/eureka/apps/JSAPP/js-host/metadata?a=b'],
  ['POST', '/eureka/v2/peerreplication/batch'],
];

describe('write protection (--write-auth)', () => {
  it('answers 401 with a challenge to a registration without credentials, and registers nothing', async () => {
    const { app, registry } = testApp({ writeAuth: parseCredential(WRITE) });
    const res = await register(app, jsClientBody());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="trellis-registry", charset="UTF-8"');
    expect(registry.size).toBe(0);
    const wrong = await register(app, jsClientBody(), '/eureka/apps/JSAPP', {
      authorization: `Basic ${Buffer.from('eureka:guess').toString('base64')}`,
    });
    expect(wrong.status).toBe(401);
    expect(registry.size).toBe(0);
  });

  it('answers a method no route serves with 405 and Allow, with or without credentials (found by the fuzz test)', async () => {
    const { app, registry } = testApp({ writeAuth: parseCredential(WRITE) });
    for (const [method, path] of [
      ['PUT', '/eureka/apps'],
      ['PATCH', '/eureka/instances/x'],
      ['DELETE', '/eureka/vips/x'],
    ] as const) {
      for (const headers of [{}, AUTH]) {
        const res = await app.request(path, { method, headers });
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.get('allow'), `${method} ${path}`).toContain('GET');
      }
    }
    // A method a route serves still needs the credentials.
    expect((await app.request('/eureka/apps/JSAPP/js-host', { method: 'DELETE' })).status).toBe(401);
    expect(registry.size).toBe(0);
  });

  it('accepts a registration with the credentials', async () => {
    const { app, registry } = testApp({ writeAuth: parseCredential(WRITE) });
    expect((await register(app, jsClientBody(), '/eureka/apps/JSAPP', AUTH)).status).toBe(204);
    expect(registry.size).toBe(1);
  });

  it.each(WRITES)('protects %s %s', async (method, path) => {
    const { app, registry } = testApp({ writeAuth: parseCredential(WRITE) });
    await register(app, jsClientBody(), '/eureka/apps/JSAPP', AUTH);
    const version = registry.version;
    const body =
      method === 'POST' ? renderReplicationBatch([{ action: 'Cancel', appName: 'JSAPP', id: 'js-host' }]) : null;
    const denied = await app.request(path, { method, body, headers: { 'content-type': 'application/json' } });
    expect(denied.status).toBe(401);
    expect(registry.version).toBe(version);
    expect(registry.size).toBe(1);
    const allowed = await app.request(path, { method, body, headers: { 'content-type': 'application/json', ...AUTH } });
    expect(allowed.status).toBe(200);
  });

  it('leaves reads and the watch stream open', async () => {
    const { app, service } = testApp({ writeAuth: parseCredential(WRITE) });
    await register(app, jsClientBody(), '/eureka/apps/JSAPP', AUTH);
    for (const path of ['/eureka/apps', '/eureka/apps/delta', '/eureka/apps/JSAPP', '/eureka/instances/js-host']) {
      expect((await app.request(path)).status).toBe(200);
    }
    const watch = await app.request('/eureka/watch');
    expect(watch.status).toBe(200);
    await watch.body?.cancel();
    await service.stop();
  });

  it('never logs the credentials', async () => {
    const mem = captureLogger();
    const { app } = testApp({ writeAuth: parseCredential(WRITE), logger: mem.logger });
    await register(app, jsClientBody(), '/eureka/apps/JSAPP', AUTH);
    await register(app, jsClientBody(), '/eureka/apps/JSAPP', { authorization: 'Basic Z3Vlc3M6d3Jvbmc=' });
    expect(mem.text()).toContain('instance registered');
    expect(mem.text()).not.toContain('wr1te-Secret');
    expect(mem.text()).not.toContain(AUTH.authorization.slice(6));
    expect(mem.text()).not.toContain('Z3Vlc3M6d3Jvbmc=');
  });
});

describe('read protection (--read-auth)', () => {
  const READ = parseCredential('bearer:reader-token');

  it('answers 401 to reads without credentials and accepts the read or the write credential', async () => {
    const { app } = testApp({ writeAuth: parseCredential(WRITE), readAuth: READ });
    const denied = await app.request('/eureka/apps');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer realm="trellis-registry"');
    expect((await app.request('/eureka/apps', { headers: { authorization: 'Bearer reader-token' } })).status).toBe(200);
    expect((await app.request('/eureka/apps', { headers: AUTH })).status).toBe(200);
  });

  it('answers 403 to a write with read-only credentials', async () => {
    const { app, registry } = testApp({ writeAuth: parseCredential(WRITE), readAuth: READ });
    const res = await register(app, jsClientBody(), '/eureka/apps/JSAPP', { authorization: 'Bearer reader-token' });
    expect(res.status).toBe(403);
    expect(registry.size).toBe(0);
  });

  it('keeps the actuator open', async () => {
    const { app } = testApp({ readAuth: READ });
    expect((await app.request('/actuator/health')).status).toBe(200);
  });
});
