// Trellis against what a team would run instead (issue 22), on the same machine in the same run: the registry against
// Eureka, the config server against Spring Cloud Config Server, the auth server against Spring Authorization Server,
// the gateway against Spring Cloud Gateway, two Node gateways and nginx.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CONFIG_REPO, DEV_ENCRYPT_KEY } from '../harness.ts';
import { buildPeer, javaVersion, type Probe } from '../peers.ts';
import { memory, race, spring, startUps, trellis } from '../race.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';
import { authorizationServer } from './peers-auth.ts';
import { gatewayPeers } from './peers-gateway.ts';
import { DIRTY, registerMany } from './registry.ts';

const INSTANCES = 1000;

const EUREKA_JSON = { accept: 'application/json' };
const FULL_FETCH: Probe = { path: '/eureka/apps', headers: EUREKA_JSON };
const CONFIG_FETCH: Probe = { path: '/product/docker' };

/**
 * Both registries keep every bench instance for the whole run: the instances are made up and renew only while the
 * heartbeat figure runs, and a registry that evicted some during the full-fetch figure would serve a smaller body.
 */
const TRELLIS_REGISTRY_ARGS = [
  '--allow-open-writes',
  '--self-preservation',
  'off',
  '--eviction-interval-ms',
  '3600000',
];
const EUREKA_ARGS = ['--eureka.server.eviction-interval-timer-in-ms=3600000'];
/** The peer reads encrypt.key from ENCRYPT_KEY (Spring's relaxed binding), as the Trellis config server does. */
const CONFIG_ENV = { CONFIG_REPO, ENCRYPT_KEY: DEV_ENCRYPT_KEY };
const SPRING_CONFIG_ARGS = [`--spring.cloud.config.server.native.search-locations=file:${CONFIG_REPO}/`];

/** Instances in a `GET /eureka/apps` JSON answer (Eureka writes a single application or instance as an object). */
async function instanceCount(url: string): Promise<number> {
  const res = await fetch(`${url}/eureka/apps`, { headers: EUREKA_JSON });
  const body = (await res.json()) as { applications: { application?: unknown } };
  const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  return list(body.applications.application as { instance?: unknown } | { instance?: unknown }[]).reduce(
    (n, app) => n + list(app.instance).length,
    0,
  );
}

/**
 * Waits until the full fetch holds every instance: Eureka answers it from a read-only cache that catches up with
 * registrations every 30 s, and racing it before then would measure a smaller body.
 */
async function untilServing(url: string, count: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  while ((await instanceCount(url)) !== count) {
    if (Date.now() > deadline) throw new Error(`bench: ${url}/eureka/apps did not list ${count} instances in 90 s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The size on the wire of a gzip full fetch, so the report shows both servers sent a like body. */
async function gzipBytes(url: string): Promise<string> {
  const res = await request(`${url}/eureka/apps`, { headers: { ...EUREKA_JSON, 'accept-encoding': 'gzip' } });
  const bytes = (await res.body.arrayBuffer()).byteLength;
  return `${(bytes / 1024).toFixed(1)} KB ${String(res.headers['content-encoding'] ?? 'identity')}`;
}

/** The decrypted `app.secret` of `GET /product/docker`: both config servers must serve the same decrypted value. */
async function productSecret(url: string): Promise<unknown> {
  const res = await fetch(`${url}/product/docker`);
  const body = (await res.json()) as { propertySources: { source: Record<string, unknown> }[] };
  return body.propertySources.find((s) => 'app.secret' in s.source)?.source['app.secret'];
}

/** The rows `BENCH_PEERS` may pick (comma-separated; all when unset), in the order a run takes them. */
const SECTIONS = ['registry', 'config', 'auth', 'gateway'] as const;
type Section = (typeof SECTIONS)[number];

function sections(): Set<Section> {
  const wanted = (process.env.BENCH_PEERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((w) => !(SECTIONS as readonly string[]).includes(w));
  if (unknown.length > 0) {
    throw new Error(`bench: BENCH_PEERS names ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`);
  }
  return new Set(wanted.length === 0 ? SECTIONS : (wanted as Section[]));
}

/** The registry against Eureka: heartbeats, full fetches, memory, start-up. */
async function registryRows(figure: ScenarioContext['figure'], dir: string, java: string): Promise<void> {
  const jar = await buildPeer('eureka-server');
  const registry = {
    trellis: await trellis(['registry', ...TRELLIS_REGISTRY_ARGS], { TRELLIS_DATA_DIR: join(dir, 'r') }, FULL_FETCH),
    peer: await spring('eureka-server', jar, FULL_FETCH, EUREKA_ARGS),
  };
  try {
    const instances = await registerMany(registry.trellis.url, INSTANCES, 'inst');
    await registerMany(registry.peer.url, INSTANCES, 'inst');
    await race(
      figure,
      'registry heartbeat, 1,000 instances',
      'Eureka',
      {
        ...registry,
        load: (url) => ({
          url,
          method: 'PUT',
          requests: instances.map(({ app, id }) => ({
            method: 'PUT',
            path: `/eureka/apps/${app}/${id}?status=UP&lastDirtyTimestamp=${DIRTY}`,
          })),
        }),
      },
      { target: 2 },
    );
    await untilServing(registry.trellis.url, INSTANCES);
    await untilServing(registry.peer.url, INSTANCES);
    const wire = `body on the wire: Trellis ${await gzipBytes(registry.trellis.url)}, Eureka ${await gzipBytes(registry.peer.url)}`;
    await race(
      figure,
      'registry GET /eureka/apps, 1,000 instances, JSON + gzip',
      'Eureka',
      {
        ...registry,
        load: (url) => ({ url: `${url}/eureka/apps`, headers: { ...EUREKA_JSON, 'accept-encoding': 'gzip' } }),
      },
      { target: 1.5, note: wire },
    );
    await memory(figure, 'registry', 'Eureka', registry);
  } finally {
    await registry.trellis.stop();
    await registry.peer.stop();
  }
  const data = join(dir, 'starts-registry');
  const start = () => trellis(['registry', ...TRELLIS_REGISTRY_ARGS], { TRELLIS_DATA_DIR: data }, FULL_FETCH);
  await (await start()).stop();
  await startUps(figure, 'registry', start, [
    { label: 'Eureka', start: () => spring('eureka-server', jar, FULL_FETCH, EUREKA_ARGS), max: 0.5, note: java },
  ]);
}

/** The config server against Spring Cloud Config Server: the shipped config-repo, natively, same key, plain HTTP. */
async function configRows(figure: ScenarioContext['figure'], dir: string, java: string): Promise<void> {
  const jar = await buildPeer('config-server');
  const configs = {
    trellis: await trellis(
      ['config-server', '--http'],
      { ...CONFIG_ENV, TRELLIS_DATA_DIR: join(dir, 'c') },
      CONFIG_FETCH,
    ),
    peer: await spring('config-server', jar, CONFIG_FETCH, SPRING_CONFIG_ARGS, CONFIG_ENV),
  };
  try {
    const secrets = [await productSecret(configs.trellis.url), await productSecret(configs.peer.url)];
    if (typeof secrets[0] !== 'string' || secrets[0] !== secrets[1]) {
      throw new Error('bench: the two config servers do not serve the same decrypted app.secret');
    }
    await race(figure, 'config GET /product/docker, HTTP', 'Config Server', {
      ...configs,
      load: (url) => ({ url: `${url}/product/docker` }),
    });
    await memory(figure, 'config', 'Config Server', configs);
  } finally {
    await configs.trellis.stop();
    await configs.peer.stop();
  }
  const data = join(dir, 'starts-config');
  const start = () => trellis(['config-server', '--http'], { ...CONFIG_ENV, TRELLIS_DATA_DIR: data }, CONFIG_FETCH);
  await (await start()).stop();
  await startUps(figure, 'config', start, [
    {
      label: 'Config Server',
      start: () => spring('config-server', jar, CONFIG_FETCH, SPRING_CONFIG_ARGS, CONFIG_ENV),
      max: 0.5,
      note: java,
    },
  ]);
}

export const peers: Scenario = {
  name: 'peers',
  async run({ figure }) {
    const wanted = sections();
    const java = await javaVersion();
    process.stderr.write(`bench: peers (${[...wanted].join(', ')}) on ${java}, Node ${process.version}\n`);
    const dir = await mkdtemp(join(tmpdir(), 'bench-peers-'));
    const rows: Record<Section, () => Promise<void>> = {
      registry: () => registryRows(figure, dir, java),
      config: () => configRows(figure, dir, java),
      auth: () => authorizationServer(figure, dir, java),
      gateway: () => gatewayPeers(figure, dir, java),
    };
    // A section that fails (a peer that does not build, a server that does not start) is reported and the others
    // still run, as the bench treats scenarios; the scenario then fails with every reason.
    const failed: string[] = [];
    try {
      for (const section of SECTIONS.filter((s) => wanted.has(s))) {
        try {
          await rows[section]();
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          process.stderr.write(`bench: peers ${section} failed: ${why}\n`);
          failed.push(`${section}: ${why}`);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    if (failed.length > 0) throw new Error(failed.join('; '));
  },
};
