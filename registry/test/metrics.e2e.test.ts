// The registry's own meters at /actuator/prometheus after real registrations, heartbeats and cancels over a socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryComponent } from '../src/main.ts';
import { jsClientBody, silentLogger } from './helpers.ts';
import { parseSamples, valueIn, type ScrapedSample } from '../../kit/test/support/scrape.ts';

const APP = 'METRICSPROBEAPP';
const IDS = ['probe-host-1:metricsprobeapp:7001', 'probe-host-2:metricsprobeapp:7002'];

let dir: string;
let running: Running;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registry-metrics-'));
  const env = {};
  const settings = loadSettings(registryComponent.settings, {
    argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
    env,
  });
  running = await registryComponent.start(settings, { logger: silentLogger(), env });
  base = `http://127.0.0.1:${running.endpoints[0]?.port ?? 0}`;
});

afterAll(async () => {
  await running.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function scrape(): Promise<{ text: string; all: ScrapedSample[] }> {
  const res = await fetch(`${base}/actuator/prometheus`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, all: parseSamples(text) };
}

describe('GET /actuator/prometheus on the registry', () => {
  it("counts instances per status, renews, registrations and cancels, as Eureka's dashboard shows them", async () => {
    const before = await scrape();
    expect(valueIn(before.all, 'trellis_registry_instances', { status: 'UP' })).toBe(0);
    for (const [i, id] of IDS.entries()) {
      const body = jsClientBody({ app: APP, instanceId: id, hostName: `probe-host-${i + 1}`, vipAddress: 'probe' });
      const res = await fetch(`${base}/eureka/apps/${APP}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(i === 1 ? { instance: { ...body.instance, status: 'DOWN' } } : body),
      });
      expect(res.status).toBe(204);
    }
    for (let n = 0; n < 3; n++) {
      const beat = await fetch(`${base}/eureka/apps/${APP}/${IDS[0]}?status=UP`, { method: 'PUT' });
      expect(beat.status).toBe(200);
    }
    const cancel = await fetch(`${base}/eureka/apps/${APP}/${IDS[1]}`, { method: 'DELETE' });
    expect(cancel.status).toBe(200);

    const { text, all } = await scrape();
    expect(valueIn(all, 'trellis_registry_instances', { status: 'UP', application: 'registry' })).toBe(1);
    expect(valueIn(all, 'trellis_registry_instances', { status: 'DOWN' })).toBe(0);
    expect(valueIn(all, 'trellis_registry_instances', { status: 'OUT_OF_SERVICE' })).toBe(0);
    expect(valueIn(all, 'trellis_registry_renews_last_minute')).toBe(3);
    // Nobody has renewed for a minute yet: nothing is expected, so the threshold is 0 and evictions stay on.
    expect(valueIn(all, 'trellis_registry_renews_threshold')).toBe(0);
    expect(valueIn(all, 'trellis_registry_self_preservation_engaged')).toBe(0);
    expect(valueIn(all, 'trellis_registry_registrations_total', { source: 'client' })).toBe(2);
    expect(valueIn(all, 'trellis_registry_registrations_total', { source: 'peer' })).toBe(0);
    expect(valueIn(all, 'trellis_registry_cancellations_total', { source: 'client' })).toBe(1);
    expect(valueIn(all, 'trellis_registry_evictions_total', { source: 'client' })).toBe(0);
    // Each request is timed under its route template, never its raw path.
    expect(valueIn(all, 'http_server_requests_seconds_count', { uri: '/eureka/apps/{app}', method: 'POST' })).toBe(2);

    // No series is named after what clients chose: application names, instance ids, host names.
    const values = all.flatMap((s) => Object.values(s.labels)).join('\n');
    for (const chosen of [APP, APP.toLowerCase(), ...IDS, 'probe-host-1', 'probe-host-2'])
      expect(values).not.toContain(chosen);
    expect(text).not.toContain(IDS[0]);
    expect(valueIn(all, 'http_server_requests_seconds_count', { uri: '/eureka/apps/{app}/{id}', method: 'PUT' })).toBe(
      3,
    );
  });
});
