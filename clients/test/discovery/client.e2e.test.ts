// The discovery client over real sockets against scripted servers: a plain Eureka (no /watch) replaying recorded
// JSON, and a watch stream whose events the test writes. Against the real registry: registry.e2e.test.ts.
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceChange } from '../../src/discovery/cache.ts';
import {
  createDiscoveryClient,
  type DiscoveryClient,
  type DiscoveryClientOptions,
} from '../../src/discovery/client.ts';
import { discoveryHealthIndicator } from '../../src/discovery/health.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { eventually, ManualClock, RECORDED_APPS, startScriptedServer, type ScriptedServer } from './helpers.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function discovery(
  options: Partial<DiscoveryClientOptions> & Pick<DiscoveryClientOptions, 'registryUrl'>,
): DiscoveryClient {
  const client = createDiscoveryClient({ logger: captureLogger().logger, ...options });
  cleanups.push(() => client.stop());
  return client;
}

async function server(script: Parameters<typeof startScriptedServer>[0]): Promise<ScriptedServer> {
  const s = await startScriptedServer(script);
  cleanups.push(() => s.close());
  return s;
}

/** An instance as a Eureka server writes it in `instance[]`. */
function wire(app: string, id: string, status = 'UP', actionType = 'ADDED'): Record<string, unknown> {
  return {
    instanceId: id,
    hostName: 'localhost',
    app,
    ipAddr: '127.0.0.1',
    status,
    overriddenStatus: 'UNKNOWN',
    port: { $: 7000, '@enabled': 'true' },
    securePort: { $: 443, '@enabled': 'false' },
    dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
    metadata: { '@class': 'java.util.Collections$EmptyMap' },
    vipAddress: app.toLowerCase(),
    lastDirtyTimestamp: '1',
    actionType,
  };
}

function apps(hash: string, version: string, instances: Record<string, unknown>[]): string {
  const byApp = new Map<string, Record<string, unknown>[]>();
  for (const i of instances) byApp.set(String(i['app']), [...(byApp.get(String(i['app'])) ?? []), i]);
  return JSON.stringify({
    applications: {
      versions__delta: version,
      apps__hashcode: hash,
      application: [...byApp].map(([name, instance]) => ({ name, instance })),
    },
  });
}

const isDelta = (r: { url: string }) => r.url === '/eureka/apps/delta';
const isFull = (r: { url: string }) => r.url === '/eureka/apps/';

describe('discovery client against a plain Eureka (no watch stream)', () => {
  it('falls back to a full fetch and delta polling when /watch answers 404, reconciling by apps__hashcode', async () => {
    let delta = apps('UP_2_', '2', [wire('EUREKACONSUMER', 'host:eurekaconsumer:9003', 'UP', 'ADDED')]);
    const eureka = await server((req, res) => {
      if (req.url === '/eureka/watch') res.writeHead(404).end();
      else if (isFull(req)) res.writeHead(200, { 'content-type': 'application/json' }).end(RECORDED_APPS);
      else if (isDelta(req)) res.writeHead(200, { 'content-type': 'application/json' }).end(delta);
      else res.writeHead(404).end();
    });
    const clock = new ManualClock();
    const { logger, lines } = captureLogger();
    const client = discovery({ registryUrl: `${eureka.url}/eureka/`, logger, clock, refreshIntervalSecs: 30 });
    const batches: (readonly InstanceChange[])[] = [];
    client.onChange((changes) => batches.push(changes));
    await client.start();
    expect(eureka.requests.map((r) => r.url)).toEqual(['/eureka/watch', '/eureka/apps/']);
    expect(eureka.requests[1]?.headers['accept']).toBe('application/json');
    expect(client.getInstances('eurekaconsumer').map((i) => i.instanceId)).toEqual(['host:eurekaconsumer:9002']);
    expect(client.snapshot()).toMatchObject({ mode: 'poll', fresh: true, appsHashCode: 'UP_1_' });
    expect(lines.some((l) => l['msg'] === 'registry has no watch stream (a plain Eureka); polling deltas')).toBe(true);

    expect(await clock.fireNext()).toBe(30_000);
    await eureka.waitFor(1, isDelta);
    await eventually(() => client.getInstances('EUREKACONSUMER').length === 2, 2000, 'delta applied');
    expect(batches.at(-1)?.map((c) => `${c.type} ${c.instance.instanceId}`)).toEqual([
      'ADDED host:eurekaconsumer:9003',
    ]);
    expect(client.snapshot().versionsDelta).toBe('2');

    // A delta whose hash does not match what the client then holds: it refetches everything, as Eureka's client does.
    delta = apps('UP_5_', '3', []);
    expect(await clock.fireNext()).toBe(30_000);
    await eureka.waitFor(2, isFull);
    await eventually(() => client.getInstances('EUREKACONSUMER').length === 1, 2000, 'full fetch replaced the cache');
    expect(eureka.requests.filter(isDelta)).toHaveLength(2);
  });

  it('fetches everything instead of a delta when its last fetch is older than the server keeps deltas', async () => {
    let up = true;
    const eureka = await server((req, res) => {
      if (!up) res.destroy();
      else if (req.url === '/eureka/apps/') res.writeHead(200).end(RECORDED_APPS);
      else res.writeHead(200).end(apps('UP_1_', '1', []));
    });
    const clock = new ManualClock();
    const client = discovery({
      registryUrl: `${eureka.url}/eureka/`,
      clock,
      useWatch: false,
      retry: { initialDelayMs: 30_000 },
    });
    await client.start();
    up = false;
    for (let i = 0; i < 6; i++) {
      expect(await clock.fireNext()).toBe(30_000);
      await eventually(() => client.snapshot().failures === i + 1, 3000, `failure ${i + 1}`);
    }
    expect(client.snapshot().fresh).toBe(false);
    // Still serving what it had while the registry is away.
    expect(client.getInstances('EUREKACONSUMER')).toHaveLength(1);
    const before = eureka.requests.length;
    up = true;
    await clock.fireNext();
    await eureka.waitFor(before + 1);
    expect(eureka.requests.slice(before).map((r) => r.url)).toEqual(['/eureka/apps/']);
  });
});

interface WatchServer {
  readonly url: string;
  readonly server: ScriptedServer;
  readonly streams: ServerResponse[];
  event(name: string, data: unknown, stream?: number): void;
}

async function watchServer(snapshot: () => string): Promise<WatchServer> {
  const streams: ServerResponse[] = [];
  const s = await server((req, res) => {
    if (req.url === '/eureka/watch') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`: ping\n\nevent: snapshot\ndata: ${snapshot()}\n\n`);
      streams.push(res);
    } else {
      res.writeHead(500).end();
    }
  });
  return {
    url: `${s.url}/eureka`,
    server: s,
    streams,
    event(name, data, stream = streams.length - 1) {
      streams[stream]?.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    },
  };
}

describe('discovery client on a watch stream', () => {
  it('loads the snapshot and applies change events at once', async () => {
    const w = await watchServer(() => apps('UP_1_', '1', [wire('REVIEW', 'r1')]));
    const client = discovery({ registryUrl: w.url });
    const batches: (readonly InstanceChange[])[] = [];
    client.onChange((c) => batches.push(c));
    await client.start();
    expect(w.server.requests[0]?.headers['accept']).toBe('text/event-stream');
    expect(client.getInstances('review').map((i) => i.instanceId)).toEqual(['r1']);
    expect(client.snapshot()).toMatchObject({ mode: 'watch', fresh: true });

    w.event('change', { action: 'ADDED', instance: wire('REVIEW', 'r2'), versionsDelta: '2', appsHashCode: 'UP_2_' });
    await eventually(() => client.getInstances('review').length === 2, 1000, 'ADDED applied');
    w.event('change', {
      action: 'MODIFIED',
      instance: wire('REVIEW', 'r1', 'DOWN'),
      versionsDelta: '3',
      appsHashCode: 'DOWN_1_UP_1_',
    });
    await eventually(() => client.getInstances('review').length === 1, 1000, 'MODIFIED applied');
    expect(client.getAllInstances('review')).toHaveLength(2);
    w.event('change', {
      action: 'DELETED',
      instance: wire('REVIEW', 'r1', 'DOWN'),
      versionsDelta: '4',
      appsHashCode: 'UP_1_',
    });
    await eventually(() => client.getAllInstances('review').length === 1, 1000, 'DELETED applied');
    expect(batches.map((b) => b.map((c) => `${c.type} ${c.instance.instanceId}`).join())).toEqual([
      'ADDED r1',
      'ADDED r2',
      'MODIFIED r1',
      'DELETED r1',
    ]);
    expect(client.snapshot().versionsDelta).toBe('4');
    expect(w.server.requests).toHaveLength(1);
  });

  it('polls while the registry refuses the stream (503 at its cap of streams), and takes the stream once offered', async () => {
    let refuse = true;
    const json = { 'content-type': 'application/json' };
    const current = apps('UP_1_', '1', [wire('REVIEW', 'r1')]);
    const streams: ServerResponse[] = [];
    const s = await server((req, res) => {
      if (req.url === '/eureka/watch' && refuse) {
        res.writeHead(503, { 'retry-after': '30' }).end('Too many open event streams (1)');
      } else if (req.url === '/eureka/watch') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`event: snapshot\ndata: ${current}\n\n`);
        streams.push(res);
      } else if (isFull(req)) res.writeHead(200, json).end(current);
      else res.writeHead(404).end();
    });
    const clock = new ManualClock();
    const { logger, lines } = captureLogger();
    const client = discovery({ registryUrl: `${s.url}/eureka/`, clock, logger, refreshIntervalSecs: 30 });
    await client.start();
    // Refused, yet loaded: a service started while the registry is full of streams still finds its peers.
    expect(s.requests.map((r) => r.url)).toEqual(['/eureka/watch', '/eureka/apps/']);
    expect(client.getInstances('review').map((i) => i.instanceId)).toEqual(['r1']);
    expect(client.snapshot()).toMatchObject({ mode: 'watch', fresh: true });
    expect(lines.map((l) => l['msg'])).toContain('registry refused the watch stream; polling until it takes one');
    // It tries the stream again after a refresh interval, as long as a plain Eureka client waits between fetches.
    refuse = false;
    expect(await clock.fireNext()).toBe(30_000);
    await eventually(() => streams.length === 1, 2000, 'stream opened');
    streams[0]?.write(
      `event: change\ndata: ${JSON.stringify({ action: 'ADDED', instance: wire('REVIEW', 'r2'), versionsDelta: '2', appsHashCode: 'UP_2_' })}\n\n`,
    );
    await eventually(() => client.getInstances('review').length === 2, 2000, 'change applied');
  });

  it('reopens the stream when the registry closes it, and the new snapshot replaces the cache', async () => {
    let current = apps('UP_2_', '1', [wire('REVIEW', 'r1'), wire('REVIEW', 'r2')]);
    const w = await watchServer(() => current);
    const { logger, lines } = captureLogger();
    const client = discovery({ registryUrl: w.url, logger });
    const batches: (readonly InstanceChange[])[] = [];
    client.onChange((c) => batches.push(c));
    await client.start();
    current = apps('UP_1_', '9', [wire('REVIEW', 'r3')]);
    w.streams[0]?.end();
    await w.server.waitFor(2);
    await eventually(() => client.getInstances('review')[0]?.instanceId === 'r3', 2000, 'second snapshot');
    expect(client.getAllInstances('review')).toHaveLength(1);
    expect(
      batches
        .at(-1)
        ?.map((c) => `${c.type} ${c.instance.instanceId}`)
        .sort(),
    ).toEqual(['ADDED r3', 'DELETED r1', 'DELETED r2']);
    const messages = lines.map((l) => l['msg']);
    expect(
      messages.filter((m) => m === 'lost contact with the registry; serving cached instances, retrying'),
    ).toHaveLength(1);
    expect(messages.filter((m) => m === 'watching the registry')).toHaveLength(2);
  });

  it('reopens the stream for a fresh snapshot when a change leaves it out of step with the server hashcode', async () => {
    const w = await watchServer(() => apps('UP_1_', '1', [wire('REVIEW', 'r1')]));
    const { logger, lines } = captureLogger();
    const client = discovery({ registryUrl: w.url, logger });
    await client.start();
    // The server says three instances are UP after this one: an event was lost.
    w.event('change', { action: 'ADDED', instance: wire('REVIEW', 'r2'), versionsDelta: '3', appsHashCode: 'UP_3_' });
    await w.server.waitFor(2);
    await eventually(() => client.getInstances('review').length === 1, 2000, 'snapshot replaced the drifted cache');
    expect(lines.find((l) => l['level'] === 40)?.['reason']).toBe(
      'watch stream out of step (apps__hashcode UP_2_ here, UP_3_ on the registry)',
    );
  });

  it('takes a silent stream for dead after the idle timeout and reopens it', async () => {
    const w = await watchServer(() => apps('UP_1_', '1', [wire('REVIEW', 'r1')]));
    const client = discovery({ registryUrl: w.url, watchIdleTimeoutMs: 300 });
    await client.start();
    const started = Date.now();
    await w.server.waitFor(2, () => true, 3000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(client.snapshot().lastError).toBe('UND_ERR_BODY_TIMEOUT');
  });

  it('reports the discovery health UP while the stream is open, UNKNOWN with a reason once it is gone', async () => {
    const w = await watchServer(() => apps('UP_1_', '1', [wire('REVIEW', 'r1')]));
    const client = discovery({ registryUrl: w.url, retry: { initialDelayMs: 60_000 } });
    const indicator = discoveryHealthIndicator({ client });
    expect(await indicator()).toMatchObject({
      status: 'UNKNOWN',
      details: { reason: 'discovery client has not reached the registry yet' },
    });
    await client.start();
    expect(await indicator()).toMatchObject({
      status: 'UP',
      details: { cache: { mode: 'watch', applications: 1, instances: 1 } },
    });
    await w.server.close();
    await eventually(() => !client.snapshot().fresh, 3000, 'stream loss noticed');
    const health = await indicator();
    expect(health.status).toBe('UNKNOWN');
    expect(String(health.details?.['reason'])).toMatch(/stale/);
    expect(client.getInstances('review')).toHaveLength(1);
  });
});
