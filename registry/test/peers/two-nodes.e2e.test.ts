// Two registry nodes as `trellis registry --peers …` runs them, on real sockets, each listing the other as its peer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSettings, type Running } from '@trellis/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { registryComponent } from '../../src/main.ts';
import { jsClientBody, silentLogger } from '../helpers.ts';
import { freePort } from '../../../kit/src/free-port.ts';

const dirs: string[] = [];
const running = new Set<Running>();
afterAll(async () => {
  for (const r of running) await r.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A port nobody listens on now, so each node can be told the other's address before either starts. */
async function startNode(port: number, peerPort: number, dir: string): Promise<Running> {
  const settings = loadSettings(registryComponent.settings, {
    argv: ['--port', String(port), '--host', '127.0.0.1', '--data-dir', dir, '--peer-sync-timeout-ms', '1500'],
    // The peers' states are health details.
    env: { REGISTRY_PEERS: `http://127.0.0.1:${peerPort}/eureka`, MANAGEMENT_ENDPOINT_HEALTH_SHOW_DETAILS: 'always' },
  });
  const node = await registryComponent.start(settings, { logger: silentLogger(), env: {} });
  running.add(node);
  return node;
}

async function ids(port: number): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${port}/eureka/apps`, { headers: { accept: 'application/json' } });
  const doc = (await res.json()) as { applications: { application: { instance: { instanceId: string }[] }[] } };
  return doc.applications.application.flatMap((a) => a.instance.map((i) => i.instanceId)).sort();
}

async function peerStates(port: number): Promise<Record<string, string>> {
  const res = await fetch(`http://127.0.0.1:${port}/actuator/health/registry`);
  return ((await res.json()) as { details: { peers: Record<string, string> } }).details.peers;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(20);
  }
  return performance.now() - start;
}

function register(port: number, hostName: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/eureka/apps/JSAPP`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(jsClientBody({ hostName })),
  });
}

describe('two registry nodes with --peers pointing at each other', () => {
  it('replicate registrations, keep serving when one stops, and the restarted one syncs', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const dirA = mkdtempSync(join(tmpdir(), 'registry-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'registry-b-'));
    dirs.push(dirA, dirB);
    const peerA = `http://127.0.0.1:${portA}/eureka`;
    const peerB = `http://127.0.0.1:${portB}/eureka`;

    // A starts first: its peer does not answer yet, and the start is not held up beyond the sync timeout.
    const startedAt = performance.now();
    await startNode(portA, portB, dirA);
    expect(performance.now() - startedAt).toBeLessThan(3000);
    const nodeB = await startNode(portB, portA, dirB);

    expect((await register(portA, 'first')).status).toBe(204);
    const seenAfter = await until(async () => (await ids(portB)).includes('first'), 1000);
    expect(seenAfter).toBeLessThan(1000);
    expect(await peerStates(portA)).toEqual({ [peerB]: 'reachable' });

    // B stops: A keeps serving reads and writes, and reports B unreachable once a batch fails.
    await nodeB.stop();
    running.delete(nodeB);
    expect((await register(portA, 'while-b-down')).status).toBe(204);
    expect(await ids(portA)).toEqual(['first', 'while-b-down']);
    await until(async () => (await peerStates(portA))[peerB] === 'unreachable', 3000);

    // B restarts on its data dir: it has its own copy at once and syncs what it missed from A.
    await startNode(portB, portA, dirB);
    expect(await ids(portB)).toEqual(['first', 'while-b-down']);
    expect(await peerStates(portB)).toEqual({ [peerA]: 'reachable' });
  });
});
