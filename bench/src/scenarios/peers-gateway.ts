// The peers scenario's gateway rows: the Trellis gateway (Path route, its filters, the JWT check) against Spring Cloud
// Gateway checking the same token, the Node gateways a Node team would pick (@fastify/http-proxy, fast-gateway) and
// nginx, all in front of the same upstream; then memory and start-up.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@trellis/kit';
import { residentMb, startServer, type LoadOptions } from '../harness.ts';
import { AUDIENCE, ISSUER, serveJwks, tokenAndJwks } from '../jwt.ts';
import { NGINX, writeNginxConf } from '../nginx.ts';
import { buildPeer, type Probe } from '../peers.ts';
import { childPids, command, memory, race, spring, startUps, trellis, type Contender, type Running } from '../race.ts';
import type { ScenarioContext } from '../scenario.ts';

const PATH = '/product/1';

const serverScript = (name: string): string => fileURLToPath(new URL(`../servers/${name}`, import.meta.url));

/** A Node proxy of bench/src/servers on a free port, `<upstream> <port>` its arguments, started through tsx. */
async function nodeProxy(script: string, upstream: string, probe: Probe): Promise<Running> {
  const port = await freePort();
  return command(
    `peer-${script.replace(/\.ts$/, '')}`,
    process.execPath,
    ['--import', 'tsx', serverScript(script), upstream, String(port)],
    `http://127.0.0.1:${port}`,
    probe,
  );
}

async function nginx(dir: string, upstreamPort: number, probe: Probe): Promise<Running> {
  const port = await freePort();
  const conf = await writeNginxConf(dir, port, upstreamPort);
  const started = await command(
    'peer-nginx',
    NGINX,
    ['-c', conf, '-g', 'daemon off;'],
    `http://127.0.0.1:${port}`,
    probe,
  );
  // The master only reads the configuration and forks; the one worker answers every request.
  const [worker] = await childPids(started.pid);
  return { ...started, cpuPid: worker };
}

/** The status of the route without a token: 401 says the server checks one. */
async function withoutToken(url: string): Promise<number> {
  const res = await fetch(`${url}${PATH}`);
  await res.arrayBuffer();
  return res.status;
}

export async function gatewayPeers(figure: ScenarioContext['figure'], dir: string, java: string): Promise<void> {
  const jar = await buildPeer('gateway');
  const { token, jwks } = tokenAndJwks();
  const jwksServer = await serveJwks(jwks);
  const jwksUri = jwksServer.uri;
  // The same upstream behind every gateway: a fresh process of the baseline's code.
  const upstream = await startServer('baseline.ts');
  const upstreamPort = Number(new URL(upstream.url).port);
  const headers = { authorization: `Bearer ${token}` };
  const probe: Probe = { path: PATH, headers };
  // Every side gets the same request, the token included; the Node gateways and nginx pass it on unread.
  const workload = (url: string): LoadOptions => ({ url: `${url}${PATH}`, headers });

  // The Trellis route as a routes file: the Path predicate, a direct uri as Spring's route has, and TokenCheck.
  const routes = join(dir, 'gateway-routes.yml');
  await writeFile(
    routes,
    [
      'spring.cloud.gateway.routes:',
      '- id: product',
      `  uri: ${upstream.url}`,
      '  predicates: [Path=/product/**]',
      '  filters: [TokenCheck=product:read]',
      '',
    ].join('\n'),
  );
  const trellisArgs = [
    'gateway',
    '--http-only',
    '--routes-file',
    routes,
    '--issuer',
    ISSUER,
    '--audience',
    AUDIENCE,
    '--jwks-uri',
    jwksUri,
  ];
  const trellisEnv = { TRELLIS_DATA_DIR: join(dir, 'gateway') };
  const springEnv = {
    BENCH_UPSTREAM: upstream.url,
    BENCH_JWKS_URI: jwksUri,
    BENCH_ISSUER: ISSUER,
    BENCH_AUDIENCE: AUDIENCE,
  };
  const springGateway = (): Promise<Running> => spring('gateway', jar, probe, [], springEnv);

  try {
    const gw = await trellis(trellisArgs, trellisEnv, probe);
    let trellisMb: number | undefined;
    try {
      const peer = await springGateway();
      try {
        const refused = [await withoutToken(gw.url), await withoutToken(peer.url)];
        if (refused.some((status) => status !== 401)) {
          throw new Error(`bench: without a token the gateways answered ${refused.join(' and ')}, not 401`);
        }
        await race(
          figure,
          `gateway GET ${PATH}, Path route + JWT check`,
          'Spring Cloud Gateway',
          { trellis: gw, peer, load: workload },
          { target: 1.5, note: 'both check the RS256 token (JWKS, iss, aud, scope product:read)' },
        );
        // Trellis's memory once, after the race with the peer the issue bounds; the references' ratios reuse it.
        trellisMb = await residentMb(gw.pid);
        figure('gateway RSS after the load: Trellis', trellisMb, 'MB');
        await memory(figure, 'gateway', 'Spring Cloud Gateway', { trellis: gw, peer }, { trellisMb });
      } finally {
        await peer.stop();
      }
      const references: { label: string; start: () => Promise<Running>; target?: number }[] = [
        {
          label: '@fastify/http-proxy',
          start: () => nodeProxy('fastify-proxy.ts', upstream.url, probe),
          target: 1,
        },
        { label: 'fast-gateway', start: () => nodeProxy('fast-gateway.ts', upstream.url, probe), target: 1 },
        { label: 'nginx', start: () => nginx(dir, upstreamPort, probe) },
      ];
      for (const reference of references) {
        const peer = await reference.start();
        try {
          await race(
            figure,
            `gateway GET ${PATH}, Path route + JWT check`,
            reference.label,
            { trellis: gw, peer, load: workload },
            {
              target: reference.target,
              note:
                reference.label === 'nginx'
                  ? 'reference: one worker, upstream keepalive; no token check'
                  : 'no token check on their side',
            },
          );
          await memory(figure, 'gateway', reference.label, { trellis: gw, peer }, { trellisMb, bounded: false });
        } finally {
          await peer.stop();
        }
      }
    } finally {
      await gw.stop();
    }

    // Restarts of the same data directory, every side probed on the route with the token.
    const references: Contender[] = [
      { label: 'Spring Cloud Gateway', start: springGateway, max: 0.5, note: java },
      { label: '@fastify/http-proxy', start: () => nodeProxy('fastify-proxy.ts', upstream.url, probe) },
      { label: 'fast-gateway', start: () => nodeProxy('fast-gateway.ts', upstream.url, probe) },
      { label: 'nginx', start: () => nginx(dir, upstreamPort, probe) },
    ];
    await startUps(figure, 'gateway', () => trellis(trellisArgs, trellisEnv, probe), references);
  } finally {
    await upstream.stop();
    jwksServer.close();
  }
}
