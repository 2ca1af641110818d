// The gateway: a Path route and lb:// with a JWT check, beside a bare Node proxy and nginx, and its added latency.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { freePort } from '@trellis/kit';
import { startServer } from '../harness.ts';
import { AUDIENCE, ISSUER, serveJwks, tokenAndJwks } from '../jwt.ts';
import { spawnNginx, type Nginx } from '../nginx.ts';
import type { Scenario } from '../scenario.ts';

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not happen within 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * p50 latency at 50 connections under a steady 1000 req/s (well below every server's capacity, so the figure is
 * the time a request takes, not the queue a saturated server builds), measured in sub-milliseconds.
 */
async function p50At50(url: string, headers: Record<string, string> = {}): Promise<number> {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 50 });
  const samples: number[] = [];
  const until = Date.now() + 4000;
  const loop = async (offset: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, offset));
    while (Date.now() < until) {
      const started = performance.now();
      const res = await pool.request({ method: 'GET', path: u.pathname, headers });
      await res.body.dump();
      samples.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, Math.max(0, 50 - (performance.now() - started))));
    }
  };
  await Promise.all(Array.from({ length: 50 }, (_, i) => loop(i)));
  await pool.close();
  samples.sort((a, b) => a - b);
  // The first second is warm-up (JIT, connections).
  const kept = samples.slice(Math.floor(samples.length / 4));
  kept.sort((a, b) => a - b);
  return kept[Math.floor(kept.length / 2)] ?? Number.NaN;
}

/**
 * The gateway's cost on the proxy path: a trivial upstream (the baseline server) direct, through a Path route,
 * through an `lb://` route with a JWT check, and through nginx (one worker, upstream keepalive) for reference.
 */
export const gateway: Scenario = {
  name: 'gateway',
  async run({ compare, figure }) {
    const dir = await mkdtemp(join(tmpdir(), 'bench-gateway-'));
    const upstream = await startServer('baseline.ts');
    const upstreamPort = Number(new URL(upstream.url).port);
    const { token, jwks } = tokenAndJwks();
    const jwksServer = await serveJwks(jwks);
    const jwksUri = jwksServer.uri;
    const registry = await startServer('registry.ts', [join(dir, 'registry')]);
    const routes = join(dir, 'routes.yml');
    await writeFile(
      routes,
      [
        'spring.cloud.gateway.routes:',
        '- id: direct',
        `  uri: ${upstream.url}`,
        '  predicates: [Path=/product/**]',
        '  filters: [Public]',
        '- id: composite',
        '  uri: lb://bench-upstream',
        '  predicates: [Path=/product-composite/**]',
        '  filters: [TokenCheck=product:read]',
        '',
      ].join('\n'),
    );
    // The upstream registered as an instance, as a service would register itself.
    const instance = {
      instance: {
        instanceId: `127.0.0.1:bench-upstream:${upstreamPort}`,
        app: 'BENCH-UPSTREAM',
        hostName: '127.0.0.1',
        ipAddr: '127.0.0.1',
        status: 'UP',
        port: { $: upstreamPort, '@enabled': 'true' },
        securePort: { $: 443, '@enabled': 'false' },
        dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
        // Nothing renews it during the run, which outlasts Eureka's default 90 s lease.
        leaseInfo: { renewalIntervalInSecs: 30, durationInSecs: 3600 },
      },
    };
    const registered = await fetch(`${registry.url}/eureka/apps/BENCH-UPSTREAM`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(instance),
    });
    if (registered.status !== 204) throw new Error(`bench: registering the upstream answered ${registered.status}`);
    const gw = await startServer('gateway.ts', [
      join(dir, 'gateway'),
      routes,
      '--registry-url',
      `${registry.url}/eureka/`,
      '--issuer',
      ISSUER,
      '--audience',
      AUDIENCE,
      '--jwks-uri',
      jwksUri,
    ]);
    const headers = { authorization: `Bearer ${token}` };
    let nginx: Nginx | undefined;
    try {
      // Inside the try: a missing nginx fails this scenario with its reason, and the servers above still stop.
      nginx = await spawnNginx(dir, await freePort(), upstreamPort);
      const nginxUrl = nginx.url;
      await waitFor(async () => (await fetch(`${gw.url}/product-composite/1`, { headers })).status === 200, 'lb route');
      await waitFor(async () => (await fetch(`${nginxUrl}/`)).status === 200, 'nginx');
      await compare('upstream direct', { url: `${upstream.url}/product/1` }, { note: 'same server as the baseline' });
      await compare('gateway, Path route', { url: `${gw.url}/product/1` }, { target: 0.5 });
      await compare('gateway, lb:// + JWT check', { url: `${gw.url}/product-composite/1`, headers }, { target: 0.4 });
      const bare = await startServer('bare-proxy.ts', [upstream.url]);
      try {
        await compare(
          'bare node:http + undici proxy',
          { url: `${bare.url}/product/1` },
          { note: 'reference: the least a Node proxy costs (no routing, filters or logs)' },
        );
      } finally {
        await bare.stop();
      }
      await compare(
        'nginx proxy_pass, 1 worker',
        { url: `${nginxUrl}/product/1` },
        {
          note: 'reference',
        },
      );
      const direct = await p50At50(`${upstream.url}/product/1`);
      const through = await p50At50(`${gw.url}/product/1`);
      figure('gateway added p50 latency, 50 connections at 1000 req/s', through - direct, 'ms', {
        max: 1,
        note: `direct p50 ${direct.toFixed(2)} ms, through the gateway ${through.toFixed(2)} ms`,
      });
    } finally {
      await nginx?.stop();
      await gw.stop();
      await registry.stop();
      await upstream.stop();
      jwksServer.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
