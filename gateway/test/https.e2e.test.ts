// The HTTPS listener with a certificate of the local CA, and who may use the route management API: the operator on
// this machine, or a caller with a gateway:admin token; never a client relayed by a proxy, the gateway's own included.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createService, ensureDevCertificates, type DevTlsMaterial, type KitEnv } from '@trellis/clients';
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIssuer, type TestIssuer } from '../../clients/test/security/helpers.ts';
import { createApp, renderError } from '../src/app.ts';
import { RouteManager } from '../src/routing/manager.ts';
import { RouteState } from '../src/routing/table.ts';
import {
  echo,
  silent,
  startTestGateway,
  startUpstream,
  type Echoed,
  type TestGateway,
  type Upstream,
} from './helpers.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

describe('HTTPS listener and route management access', () => {
  let dir: string;
  let tls: DevTlsMaterial;
  let trusting: Agent;
  let upstream: Upstream;
  let issuer: TestIssuer;
  let gateway: TestGateway;
  let base: string;

  const send = async (
    path: string,
    options: { method?: 'GET' | 'POST' | 'DELETE'; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Reply> => {
    const res = await undiciRequest(`${base}${path}`, {
      dispatcher: trusting,
      method: options.method ?? 'GET',
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  /** What a reverse proxy on the same host sends for an outside client. */
  const relayed = { 'x-forwarded-for': '203.0.113.7' };
  const routeBody = (path: string) =>
    JSON.stringify({ uri: upstream.url, predicates: [`Path=${path}`], filters: ['StripPrefix=1'] });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-https-'));
    // The local CA as `trellis up` makes it; the gateway issues its server certificate from it.
    tls = await ensureDevCertificates({ dir: join(dir, 'tls') });
    trusting = new Agent({ connect: { ca: tls.ca } });
    upstream = await startUpstream(echo);
    issuer = await startIssuer({ audience: 'product-api' });
    gateway = await startTestGateway(
      `
spring.cloud.gateway.routes:
- id: echo
  uri: ${upstream.url}
  predicates: [Path=/echo/**]
  filters: [StripPrefix=1]
`,
      {
        https: true,
        dataDir: dir,
        argv: ['--issuer', issuer.url, '--audience', 'product-api', '--default-auth', 'public'],
      },
    );
    base = gateway.httpsUrl ?? '';
  });

  afterAll(async () => {
    await gateway.stop();
    await trusting.close();
    await upstream.close();
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('proxies over HTTPS with a certificate the local CA signed, and tells the upstream the scheme', async () => {
    expect(base).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await send('/echo/hello?x=1');
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.text) as Echoed;
    expect(seen.url).toBe('/hello?x=1');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    // Without the CA the certificate is not trusted: it is the local CA's, not a public one.
    const untrusting = new Agent();
    await expect(undiciRequest(`${base}/echo/x`, { dispatcher: untrusting })).rejects.toThrow(
      /certificate|self[- ]signed/i,
    );
    await untrusting.close();
  });

  it('lets the operator on this machine list and change routes over HTTPS', async () => {
    expect((await send('/actuator/gateway/routes')).status).toBe(200);
    const created = await send('/actuator/gateway/routes/local', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: routeBody('/local/**'),
    });
    expect(created.status).toBe(201);
    expect((JSON.parse((await send('/local/x')).text) as Echoed).url).toBe('/x');
    expect((await send('/actuator/gateway/routes/local', { method: 'DELETE' })).status).toBe(200);
  });

  it('refuses a relayed caller without a valid admin token: 401 with a Bearer challenge, 403 without the scope', async () => {
    const anonymous = await send('/actuator/gateway/routes', { headers: relayed });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="gateway"');
    expect(JSON.parse(anonymous.text)).toMatchObject({ error: 'unauthorized' });
    const forged = await send('/actuator/gateway/routes', {
      headers: {
        ...relayed,
        authorization: `Bearer ${await issuer.sign({ scope: 'gateway:admin', aud: 'other-api' })}`,
      },
    });
    expect(forged.status).toBe(401);
    expect(forged.headers['www-authenticate']).toMatch(/invalid_token/);
    const weak = await send('/actuator/gateway/routes/sneaky', {
      method: 'POST',
      headers: {
        ...relayed,
        'content-type': 'application/json',
        authorization: `Bearer ${await issuer.sign({ scope: 'product:read' })}`,
      },
      body: routeBody('/sneaky/**'),
    });
    expect(weak.status).toBe(403);
    expect(weak.headers['www-authenticate']).toMatch(/insufficient_scope.*gateway:admin/);
    // Nothing was created by the refused call.
    expect((await send('/sneaky/x')).status).toBe(404);
  });

  it('lets a relayed caller with a gateway:admin token manage routes', async () => {
    const admin = { ...relayed, authorization: `Bearer ${await issuer.sign({ scope: 'gateway:admin' })}` };
    const created = await send('/actuator/gateway/routes/remote', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: routeBody('/remote/**'),
    });
    expect(created.status).toBe(201);
    expect((await send('/remote/x')).status).toBe(200);
    expect((await send('/actuator/gateway/routes/remote', { method: 'DELETE', headers: admin })).status).toBe(200);
  });

  it("refuses management reached through the gateway's own proxy (a route pointing back at the gateway)", async () => {
    const self = await send('/actuator/gateway/routes/self', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uri: gateway.url, predicates: ['Path=/self/**'], filters: ['StripPrefix=1'] }),
    });
    expect(self.status).toBe(201);
    // The proxy adds X-Forwarded-For, so the loopback hop does not pass for the operator.
    const through = await send('/self/actuator/gateway/routes');
    expect(through.status).toBe(401);
    expect((await send('/self/actuator/health')).status).toBe(200);
    expect((await send('/actuator/gateway/routes/self', { method: 'DELETE' })).status).toBe(200);
  });
});

describe('route management from another host (in-process, non-loopback peer)', () => {
  const manager = new RouteManager(
    {},
    {
      requireTokens: false,
      canVerifyTokens: false,
      canDiscover: false,
      logger: silent,
      now: Date.now,
      state: new RouteState(),
    },
  );
  /** The node binding the kit's app reads the peer from, as @hono/node-server passes it. */
  const from = (remoteAddress: string) =>
    ({ incoming: { socket: { remoteAddress }, headers: {} }, outgoing: {} }) as unknown as KitEnv['Bindings'];

  it('answers 403 without --issuer, since no token could be checked, and 200 for loopback', async () => {
    const service = createService({ name: 'gateway', logger: silent, renderError });
    service.app.route('/', createApp({ manager, verifier: undefined }));
    const remote = await service.app.request('/actuator/gateway/routes', {}, from('192.0.2.10'));
    expect(remote.status).toBe(403);
    const body = (await remote.json()) as { error: string; message: string };
    expect(body.error).toBe('forbidden');
    expect(body.message).toMatch(/--issuer/);
    const created = await service.app.request(
      '/actuator/gateway/routes/x',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"uri":"http://localhost:1"}' },
      from('::ffff:10.1.2.3'),
    );
    expect(created.status).toBe(403);
    expect(manager.table.get('x')).toBeUndefined();
    expect((await service.app.request('/actuator/gateway/routes', {}, from('127.0.0.1'))).status).toBe(200);
    await service.stop();
  });

  it('answers 401 to a caller without a token when tokens can be checked', async () => {
    const issuer = await startIssuer({ audience: 'product-api' });
    try {
      const { createTokenVerifier } = await import('@trellis/clients');
      const verifier = createTokenVerifier({ issuer: issuer.url, audience: ['product-api'], logger: silent });
      const service = createService({ name: 'gateway', logger: silent, renderError });
      service.app.route('/', createApp({ manager, verifier }));
      const res = await service.app.request('/actuator/gateway/routes', {}, from('198.51.100.4'));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="gateway"');
      const admin = await issuer.sign({ scope: 'gateway:admin' });
      const ok = await service.app.request(
        '/actuator/gateway/routes',
        { headers: { authorization: `Bearer ${admin}` } },
        from('198.51.100.4'),
      );
      expect(ok.status).toBe(200);
      await service.stop();
    } finally {
      await issuer.close();
    }
  });
});
