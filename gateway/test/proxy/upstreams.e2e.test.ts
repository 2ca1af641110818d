// HTTPS upstreams: the landscape's services serve certificates of the local development CA, which the upstream pools
// trust besides the system roots, never by turning verification off.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevCertificates, type DevTlsMaterial } from '@trellis/kit/tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, type TestGateway } from '../helpers.ts';

describe('https:// upstreams', () => {
  let dir: string;
  let tls: DevTlsMaterial;
  let upstream: https.Server;
  let routes: string;
  const gateways: TestGateway[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-tls-'));
    tls = await ensureDevCertificates({ dir: join(dir, 'tls') });
    upstream = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url }));
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    // localhost, not 127.0.0.1: the name the development certificate is issued for, as the landscape's routes use.
    const port = (upstream.address() as AddressInfo).port;
    routes = `routes:\n- id: config\n  uri: https://localhost:${port}\n  predicates: [Path=/config/**]\n  filters: [Public, StripPrefix=1]\n`;
  });

  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  async function gateway(argv: string[] = []): Promise<TestGateway> {
    const started = await startTestGateway(routes, { argv });
    gateways.push(started);
    return started;
  }

  it('proxies to an upstream whose certificate the --upstream-ca-file CA signed', async () => {
    const gw = await gateway(['--upstream-ca-file', tls.caFile]);
    const res = await call(`${gw.url}/config/product/default`);
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ url: '/product/default' });
  });

  it('trusts the local development CA under <data-dir>/tls by default', async () => {
    const gw = await gateway(['--data-dir', dir]);
    const res = await call(`${gw.url}/config/x`);
    expect(res.status).toBe(200);
  });

  it('answers 502 JSON naming the route when the upstream certificate is not trusted', async () => {
    const gw = await gateway();
    const res = await call(`${gw.url}/config/x`);
    expect(res.status).toBe(502);
    expect(res.json()).toMatchObject({ error: 'bad_gateway', route: 'config' });
  });

  it('refuses to start when --upstream-ca-file cannot be read', async () => {
    await expect(gateway(['--upstream-ca-file', join(dir, 'missing.pem')])).rejects.toThrow(
      /--upstream-ca-file \(GATEWAY_UPSTREAM_CA_FILE, TRELLIS_CA_FILE\)/,
    );
  });
});
