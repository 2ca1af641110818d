// A full Eureka replication batch of large registrations, sent to a registry node as `trellis registry` runs it: it
// must fit the node's body limit, since Eureka drops a batch answered 413 whole instead of splitting it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryComponent } from '../../src/main.ts';
import { EUREKA_MAX_BATCH_ITEMS } from '../../src/routes/peer-replication.ts';
import { jsClientBody, silentLogger } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'registry-batch-size-'));
let node: Running;
let url = '';

beforeAll(async () => {
  const settings = loadSettings(registryComponent.settings, {
    argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
    env: {},
  });
  node = await registryComponent.start(settings, { logger: silentLogger(), env: {} });
  url = node.endpoints[0]?.url ?? '';
});
afterAll(async () => {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A Register item as Eureka's PeerEurekaNode sends it, its instance carrying `metadataBytes` of metadata. */
function registerItem(id: string, metadataBytes: number): object {
  const metadata: Record<string, string> = {};
  for (let i = 0; i * 100 < metadataBytes; i++) metadata[`key${i}`] = 'v'.repeat(96);
  const { instance } = jsClientBody({ instanceId: id, app: 'BIG', hostName: `${id}.local`, metadata });
  return {
    appName: 'BIG',
    id,
    lastDirtyTimestamp: Date.now(),
    status: 'UP',
    instanceInfo: instance,
    action: 'Register',
  };
}

describe('a replication batch', () => {
  it('of 250 registrations with 6 KB of metadata each (1.6 MB, over the usual 1 MiB) is taken whole', async () => {
    const items = Array.from({ length: EUREKA_MAX_BATCH_ITEMS }, (_, i) => registerItem(`big-${i}`, 6000));
    const body = JSON.stringify({ replicationList: items });
    expect(body.length).toBeGreaterThan(1.5 * 1024 * 1024);
    const res = await fetch(`${url}/eureka/peerreplication/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-netflix-discovery-replication': 'true' },
      body,
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { responseList: { statusCode: number }[] };
    expect(answer.responseList).toHaveLength(EUREKA_MAX_BATCH_ITEMS);
    expect(answer.responseList.every((r) => r.statusCode === 204)).toBe(true);
    const app = await fetch(`${url}/eureka/apps/BIG`, { headers: { accept: 'application/json' } });
    const doc = (await app.json()) as { application: { instance: unknown[] } };
    expect(doc.application.instance).toHaveLength(EUREKA_MAX_BATCH_ITEMS);
  });

  it('is still refused with 413 beyond what 250 of the largest registrations need', async () => {
    const res = await fetch(`${url}/eureka/peerreplication/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-netflix-discovery-replication': 'true' },
      body: JSON.stringify({ replicationList: [], padding: 'x'.repeat(10 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
  });
});
