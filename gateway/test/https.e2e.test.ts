// The HTTPS listener with a certificate of the local CA, and the route management API over it: only with the
// --admin-auth credential, whoever the peer (the gateway's own proxy included).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevCertificates, type DevTlsMaterial } from '@trellis/kit/tls';
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIssuer, type TestIssuer } from '../../clients/test/security/helpers.ts';
import {
  ADMIN_ARGV,
  ADMIN_AUTHORIZATION,
  echo,
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
  const admin = { authorization: ADMIN_AUTHORIZATION };
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
        argv: ['--issuer', issuer.url, '--audience', 'product-api', '--default-auth', 'public', ...ADMIN_ARGV],
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

  it('lets the operator with --admin-auth list and change routes over HTTPS', async () => {
    expect((await send('/actuator/gateway/routes', { headers: relayed })).status).toBe(401);
    expect((await send('/actuator/gateway/routes', { headers: admin })).status).toBe(200);
    const created = await send('/actuator/gateway/routes/local', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: routeBody('/local/**'),
    });
    expect(created.status).toBe(201);
    expect((JSON.parse((await send('/local/x')).text) as Echoed).url).toBe('/x');
    expect((await send('/actuator/gateway/routes/local', { method: 'DELETE', headers: admin })).status).toBe(200);
  });

  it("refuses management reached through the gateway's own proxy without the credential", async () => {
    const self = await send('/actuator/gateway/routes/self', {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ uri: gateway.url, predicates: ['Path=/self/**'], filters: ['StripPrefix=1'] }),
    });
    expect(self.status).toBe(201);
    // The hop from the gateway to itself is loopback; that proves nothing, the credential does.
    const through = await send('/self/actuator/gateway/routes');
    expect(through.status).toBe(401);
    expect((await send('/self/actuator/health')).status).toBe(200);
    expect((await send('/actuator/gateway/routes/self', { method: 'DELETE', headers: admin })).status).toBe(200);
  });
});
