// Trellis against the Spring servers a team would run instead (issue 22), on the same machine in the same run: the
// registry against Spring Cloud Netflix's Eureka server, the config server against Spring Cloud Config Server.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { CONFIG_REPO, DEV_ENCRYPT_KEY, median, residentMb, startTrellis, stopProcess } from '../harness.ts';
import {
  buildPeer,
  firstOk,
  javaVersion,
  measure,
  startPeer,
  warmUp,
  type Measured,
  type PeerName,
  type Probe,
} from '../peers.ts';
import type { LoadOptions } from '../harness.ts';
import type { Scenario, ScenarioContext } from '../scenario.ts';
import { DIRTY, registerMany } from './registry.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '5');
/** Measured starts per server and side, after the load runs (so every start finds the files in the page cache). */
const STARTS = 3;
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

interface Running {
  readonly url: string;
  readonly pid: number;
  readonly ms: number;
  stop(): Promise<void>;
}

/** `trellis <args>`, timed from spawn to its first 200 on `probe` (the same clock the peer is timed with). */
async function trellis(args: readonly string[], env: NodeJS.ProcessEnv, probe: Probe): Promise<Running> {
  const began = performance.now();
  const started = await startTrellis([...args, '--port', '0', '--host', '127.0.0.1'], { LOG_LEVEL: 'info', ...env });
  try {
    const ms = await firstOk(started.url, probe, began, started.child);
    return { url: started.url, pid: started.child.pid ?? 0, ms, stop: () => stopProcess(started.child) };
  } catch (err) {
    started.child.kill('SIGKILL');
    throw err;
  }
}

async function spring(
  name: PeerName,
  jar: string,
  probe: Probe,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<Running> {
  const started = await startPeer(name, jar, { args, env, probe });
  return { url: started.url, pid: started.child.pid ?? 0, ms: started.ms, stop: () => started.stop() };
}

const range = (values: readonly number[], digits = 2): string =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/**
 * One workload on both servers: warmed until each stops improving, then ROUNDS paired rounds, the side that goes
 * first alternating so neither always meets the busier second. Reports each side's median and the median ratio.
 */
async function race(
  figure: ScenarioContext['figure'],
  name: string,
  peerLabel: string,
  sides: { trellis: Running; peer: Running; load: (url: string) => LoadOptions },
  { target, note }: { target?: number; note?: string } = {},
): Promise<void> {
  const { trellis: t, peer: p } = sides;
  const bursts = await warmUp([
    { label: `${name}, Trellis`, load: sides.load(t.url) },
    { label: `${name}, ${peerLabel}`, load: sides.load(p.url) },
  ]);
  const rounds: { t: Measured; p: Measured }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      const tm = await measure(t.pid, sides.load(t.url));
      rounds.push({ t: tm, p: await measure(p.pid, sides.load(p.url)) });
    } else {
      const pm = await measure(p.pid, sides.load(p.url));
      rounds.push({ t: await measure(t.pid, sides.load(t.url)), p: pm });
    }
  }
  const side = (label: string, results: readonly Measured[], warm: number): void => {
    const failed = results.reduce((n, r) => n + r.errors + r.non2xx, 0);
    figure(`${name}: ${label}`, median(results.map((r) => r.requestsPerSec)), 'req/s', {
      note: [
        `p50 ${median(results.map((r) => r.p50Ms)).toFixed(1)} ms, p99 ${median(results.map((r) => r.p99Ms)).toFixed(1)} ms`,
        `server CPU ${Math.round(median(results.map((r) => r.cpuUsPerRequest)))} µs/request`,
        `${warm} warm-up bursts`,
        failed > 0 ? `${failed} FAILED requests` : '',
      ]
        .filter(Boolean)
        .join('; '),
    });
  };
  side(
    'Trellis',
    rounds.map((r) => r.t),
    bursts[0] ?? 0,
  );
  side(
    peerLabel,
    rounds.map((r) => r.p),
    bursts[1] ?? 0,
  );
  const ratios = rounds.map((r) => r.t.requestsPerSec / r.p.requestsPerSec);
  figure(`${name}: Trellis / ${peerLabel}`, median(ratios), 'ratio', {
    min: target,
    note: [`median of ${ratios.length} paired rounds, ${range(ratios)}`, note].filter(Boolean).join('; '),
  });
}

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

interface Footprint {
  readonly trellis: Running;
  readonly peer: Running;
}

/** Resident memory after the warm-up and the measured rounds, and the ratio the issue bounds. */
async function memory(figure: ScenarioContext['figure'], name: string, peerLabel: string, f: Footprint) {
  const t = await residentMb(f.trellis.pid);
  const p = await residentMb(f.peer.pid);
  figure(`${name} RSS after the load: Trellis`, t, 'MB');
  figure(`${name} RSS after the load: ${peerLabel}`, p, 'MB');
  figure(`${name} RSS: Trellis / ${peerLabel}`, t / p, 'ratio', { max: 0.5 });
}

export const peers: Scenario = {
  name: 'peers',
  async run({ figure }) {
    const java = await javaVersion();
    process.stderr.write(`bench: peers on ${java}, Node ${process.version}\n`);
    const jars = { eureka: await buildPeer('eureka-server'), config: await buildPeer('config-server') };
    const dir = await mkdtemp(join(tmpdir(), 'bench-peers-'));
    try {
      // The registry: the same 1,000 instances in both.
      const registry = {
        trellis: await trellis(
          ['registry', ...TRELLIS_REGISTRY_ARGS],
          { TRELLIS_DATA_DIR: join(dir, 'r') },
          FULL_FETCH,
        ),
        peer: await spring('eureka-server', jars.eureka, FULL_FETCH, EUREKA_ARGS),
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

      // The config server: the shipped config-repo, natively, with the same key, over plain HTTP.
      const configs = {
        trellis: await trellis(
          ['config-server', '--http'],
          { ...CONFIG_ENV, TRELLIS_DATA_DIR: join(dir, 'c') },
          CONFIG_FETCH,
        ),
        peer: await spring('config-server', jars.config, CONFIG_FETCH, SPRING_CONFIG_ARGS, CONFIG_ENV),
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

      // Start-up, spawn → first 200, alternating the sides; Trellis's data directory made by an unmeasured start
      // first, so every measured start is a restart, as a deployed server's usually is (the JVM needs none).
      const servers = [
        {
          name: 'registry',
          peerLabel: 'Eureka',
          trellis: (data: string) =>
            trellis(['registry', ...TRELLIS_REGISTRY_ARGS], { TRELLIS_DATA_DIR: data }, FULL_FETCH),
          peer: () => spring('eureka-server', jars.eureka, FULL_FETCH, EUREKA_ARGS),
        },
        {
          name: 'config',
          peerLabel: 'Config Server',
          trellis: (data: string) =>
            trellis(['config-server', '--http'], { ...CONFIG_ENV, TRELLIS_DATA_DIR: data }, CONFIG_FETCH),
          peer: () => spring('config-server', jars.config, CONFIG_FETCH, SPRING_CONFIG_ARGS, CONFIG_ENV),
        },
      ];
      for (const server of servers) {
        const data = join(dir, `starts-${server.name}`);
        await (await server.trellis(data)).stop();
        const times = { trellis: [] as number[], peer: [] as number[] };
        for (let i = 0; i < STARTS; i++) {
          const order = i % 2 === 0 ? (['trellis', 'peer'] as const) : (['peer', 'trellis'] as const);
          for (const which of order) {
            const started = which === 'trellis' ? await server.trellis(data) : await server.peer();
            times[which].push(started.ms);
            await started.stop();
          }
        }
        figure(`${server.name} spawn → first 200: Trellis`, median(times.trellis), 'ms', {
          note: `${STARTS} starts, ${range(times.trellis, 0)} ms`,
        });
        figure(`${server.name} spawn → first 200: ${server.peerLabel}`, median(times.peer), 'ms', {
          note: `${STARTS} starts, ${range(times.peer, 0)} ms; ${java}`,
        });
        const ratios = times.trellis.map((t, i) => t / (times.peer[i] ?? Number.NaN));
        figure(`${server.name} start-up: Trellis / ${server.peerLabel}`, median(ratios), 'ratio', {
          max: 0.5,
          note: `median of ${STARTS} paired starts, ${range(ratios)}`,
        });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
