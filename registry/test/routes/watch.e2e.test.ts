// The watch stream over a real socket, read by a plain node:http client.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { instance, jsClientBody } from '../helpers.ts';
import { BASELINE_LISTENERS, serveWatched, type WatchedRegistry } from '../sse-client.ts';

const running: WatchedRegistry[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

async function serve(options: { watchPingMs?: number; watchMaxQueued?: number } = {}) {
  const served = await serveWatched(options);
  running.push(served);
  const post = (body: unknown, app = 'JSAPP') =>
    fetch(`${served.base}/eureka/apps/${app}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  return { ...served, post };
}

describe('GET /eureka/watch', () => {
  it('sends the snapshot (GET /apps JSON, id = version), then a change within milliseconds of a register', async () => {
    const { base, watch, post, registry } = await serve();
    await post(jsClientBody({ hostName: 'before' }));
    const client = await watch();
    expect(client.status).toBe(200);
    expect(client.headers['content-type']).toMatch(/^text\/event-stream/);
    const snapshot = await client.next((e) => e.event === 'snapshot');
    expect(snapshot.id).toBe('1');
    const apps = await (await fetch(`${base}/eureka/apps`, { headers: { accept: 'application/json' } })).text();
    expect(snapshot.data).toBe(apps);

    const sent = performance.now();
    const res = await post(jsClientBody({ hostName: 'after' }));
    expect(res.status).toBe(204);
    const change = await client.next((e) => e.event === 'change');
    const latency = change.receivedAt - sent;
    // A few ms on an idle machine (POST round trip included); the bound leaves room for a loaded CI runner.
    expect(latency).toBeLessThan(200);
    expect(change.id).toBe('2');
    const data = JSON.parse(change.data) as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(['action', 'instance', 'versionsDelta', 'appsHashCode']);
    expect(data).toMatchObject({ action: 'ADDED', versionsDelta: '2', appsHashCode: 'UP_2_' });
    // The instance exactly as it appears inside GET /apps.
    const full = (await (await fetch(`${base}/eureka/apps`, { headers: { accept: 'application/json' } })).json()) as {
      applications: { application: { instance: { instanceId: string }[] }[] };
    };
    const listed = full.applications.application[0]?.instance.find((i) => i.instanceId === 'after');
    expect(data['instance']).toEqual(listed);
    expect(registry.version).toBe(2);
  });

  it('streams MODIFIED and DELETED in order, on the /eureka/v2 alias too', async () => {
    const { base, watch, post } = await serve();
    await post(jsClientBody());
    const client = await watch('/eureka/v2/watch/');
    await client.next((e) => e.event === 'snapshot');
    await fetch(`${base}/eureka/apps/JSAPP/js-host/status?value=OUT_OF_SERVICE`, { method: 'PUT' });
    await fetch(`${base}/eureka/apps/JSAPP/js-host`, { method: 'DELETE' });
    await client.next((e) => e.id === '3');
    const changes = client.events
      .filter((e) => e.event === 'change')
      .map((e) => JSON.parse(e.data) as { action: string; appsHashCode: string; instance: { status: string } });
    expect(changes.map((c) => [c.action, c.instance.status, c.appsHashCode])).toEqual([
      ['MODIFIED', 'OUT_OF_SERVICE', 'OUT_OF_SERVICE_1_'],
      ['DELETED', 'OUT_OF_SERVICE', ''],
    ]);
  });

  it('sends a ": ping" comment on the interval', async () => {
    const { watch } = await serve({ watchPingMs: 50 });
    const client = await watch();
    expect(await client.waitForComment(1000)).toBe(': ping');
  });

  it('unsubscribes when the client goes away', async () => {
    const { watch, registry } = await serve();
    const a = await watch();
    const b = await watch();
    await a.next((e) => e.event === 'snapshot');
    await b.next((e) => e.event === 'snapshot');
    expect(registry.changeListenerCount).toBe(BASELINE_LISTENERS + 2);
    a.close();
    b.close();
    for (let i = 0; i < 100 && registry.changeListenerCount > BASELINE_LISTENERS; i++) await sleep(10);
    expect(registry.changeListenerCount).toBe(BASELINE_LISTENERS);
  });

  it('ends every stream when the service stops', async () => {
    const { watch, service, registry } = await serve();
    const client = await watch();
    await client.next((e) => e.event === 'snapshot');
    const started = performance.now();
    await service.stop();
    await client.ended;
    expect(performance.now() - started).toBeLessThan(1000);
    expect(registry.changeListenerCount).toBe(BASELINE_LISTENERS);
  });

  it('ends the stream of a client that falls too far behind, so it starts again from a snapshot', async () => {
    const { watch, registry } = await serve({ watchMaxQueued: 3 });
    const client = await watch();
    await client.next((e) => e.event === 'snapshot');
    // Changes made in one synchronous burst queue up faster than they can be written.
    for (let i = 0; i < 10; i++) registry.register(instance('BURST', `b${i}`));
    await client.ended;
    expect(registry.changeListenerCount).toBe(BASELINE_LISTENERS);
  });
});
