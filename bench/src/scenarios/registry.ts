// The registry: heartbeats, full fetches, register-to-watcher latency and memory with many instances.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SseParser } from '@trellis/clients/http';
import { request } from 'undici';
import { residentMb, startServer } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const APPS = 10;
/** The lastDirtyTimestamp every bench instance registers with and heartbeats carry. */
export const DIRTY = 1_767_225_600_000;

interface Registered {
  readonly app: string;
  readonly id: string;
}

function body(app: string, id: string): string {
  return JSON.stringify({
    instance: {
      instanceId: id,
      app,
      hostName: `${id}.bench.local`,
      ipAddr: '10.0.0.1',
      status: 'UP',
      port: { $: 8080, '@enabled': 'true' },
      vipAddress: app.toLowerCase(),
      statusPageUrl: `http://${id}.bench.local:8080/actuator/info`,
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      metadata: { 'management.port': '8080' },
      lastDirtyTimestamp: DIRTY,
    },
  });
}

async function registerOne(url: string, app: string, id: string): Promise<void> {
  const res = await request(`${url}/eureka/apps/${app}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body(app, id),
  });
  await res.body.dump();
  if (res.statusCode !== 204) throw new Error(`register ${app}/${id}: ${res.statusCode}`);
}

/** Registers `count` instances spread over APPS applications, `parallel` at a time, before anything is measured. */
export async function registerMany(url: string, count: number, prefix: string, parallel = 32): Promise<Registered[]> {
  const all = Array.from({ length: count }, (_, i) => ({ app: `BENCH-APP-${i % APPS}`, id: `${prefix}-${i}` }));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < all.length) {
      const item = all[next++];
      if (item !== undefined) await registerOne(url, item.app, item.id);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return all;
}

/** Milliseconds from sending each registration to its change event arriving on an open watch stream. */
async function watchLatencies(url: string, registrations: number): Promise<number[]> {
  const controller = new AbortController();
  const res = await request(`${url}/eureka/watch`, {
    headers: { accept: 'text/event-stream' },
    signal: controller.signal,
  });
  const parser = new SseParser();
  const waiting = new Map<string, (at: number) => void>();
  let snapshot: () => void = () => undefined;
  const snapshotSeen = new Promise<void>((resolve) => (snapshot = resolve));
  // undici's body yields Buffers whatever setEncoding says; decode in stream mode so split characters survive.
  const decoder = new TextDecoder();
  res.body.on('data', (chunk: Buffer) => {
    const at = performance.now();
    for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
      if (event.event === 'snapshot') snapshot();
      if (event.event !== 'change') continue;
      const id = (JSON.parse(event.data) as { instance: { instanceId: string } }).instance.instanceId;
      waiting.get(id)?.(at);
    }
  });
  res.body.on('error', () => undefined);
  await snapshotSeen;
  const latencies: number[] = [];
  for (let i = 0; i < registrations; i++) {
    const id = `watched-${i}`;
    const seen = new Promise<number>((resolve) => waiting.set(id, resolve));
    const sent = performance.now();
    await registerOne(url, 'BENCH-WATCHED', id);
    latencies.push((await seen) - sent);
    waiting.delete(id);
  }
  controller.abort();
  return latencies;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** The registry with 1,000 (and 10,000) registered instances: heartbeats, full fetches, watch latency, memory. */
export const registry: Scenario = {
  name: 'registry',
  async run({ compare, figure }) {
    const dir = await mkdtemp(join(tmpdir(), 'bench-registry-'));
    const server = await startServer('registry.ts', [join(dir, 'a')]);
    try {
      const instances = await registerMany(server.url, 1000, 'inst');
      await compare(
        'registry PUT heartbeat (1,000 instances)',
        {
          url: server.url,
          method: 'PUT',
          requests: instances.map(({ app, id }) => ({
            method: 'PUT',
            path: `/eureka/apps/${app}/${id}?status=UP&lastDirtyTimestamp=${DIRTY}`,
          })),
        },
        { target: 0.6 },
      );
      await compare(
        'registry GET /eureka/apps (1,000 instances, JSON, gzip)',
        { url: `${server.url}/eureka/apps`, headers: { accept: 'application/json', 'accept-encoding': 'gzip' } },
        { target: 0.3 },
      );
      const latencies = await watchLatencies(server.url, 200);
      figure('registry register → seen by a watcher, p99', percentile(latencies, 99), 'ms', {
        max: 50,
        note: `200 registrations, p50 ${percentile(latencies, 50).toFixed(1)} ms`,
      });
    } finally {
      await server.stop();
    }
    const big = await startServer('registry.ts', [join(dir, 'b')]);
    try {
      await registerMany(big.url, 10_000, 'held');
      // Let the registration burst's garbage go before reading what the registry holds.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      figure('registry RSS holding 10,000 instances', await residentMb(big.pid), 'MB', { max: 200 });
    } finally {
      await big.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
