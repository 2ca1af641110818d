import { describe, expect, it } from 'vitest';
import { renderReplicationBatch } from '../../src/eureka/index.ts';
import type { RegistryChange } from '../../src/registry/events.ts';
import { instance, testApp } from '../helpers.ts';

function post(app: ReturnType<typeof testApp>['app'], body: string, path = '/eureka/peerreplication/batch') {
  return app.request(path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json',
      'x-netflix-discovery-replication': 'true',
    },
    body,
  });
}

interface Answer {
  responseList: { statusCode: number; responseEntity?: { instanceId: string; lastDirtyTimestamp: string } }[];
}

describe('POST /eureka/peerreplication/batch', () => {
  it('applies each item with the rules of its request and answers one status per item', async () => {
    const { app, registry } = testApp();
    const changes: RegistryChange[] = [];
    registry.onChange((c) => changes.push(c));
    registry.register(instance('SHOP', 'held', { lastDirtyTimestamp: 5000 }));
    const shop = instance('SHOP', 's1', { lastDirtyTimestamp: 1000 });
    const body = renderReplicationBatch([
      { action: 'Register', appName: 'SHOP', id: 's1', instanceInfo: shop },
      { action: 'Heartbeat', appName: 'SHOP', id: 's1', lastDirtyTimestamp: 1000, status: 'UP' },
      { action: 'Heartbeat', appName: 'SHOP', id: 'nope' },
      { action: 'Heartbeat', appName: 'SHOP', id: 'held', lastDirtyTimestamp: 4000 },
      { action: 'StatusUpdate', appName: 'SHOP', id: 's1', status: 'OUT_OF_SERVICE', lastDirtyTimestamp: 1000 },
      { action: 'DeleteStatusOverride', appName: 'SHOP', id: 'missing' },
      { action: 'Cancel', appName: 'SHOP', id: 'held' },
    ]);
    const res = await post(app, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const answer = (await res.json()) as Answer;
    expect(answer.responseList.map((r) => r.statusCode)).toEqual([204, 200, 404, 409, 200, 404, 200]);
    expect(answer.responseList[3]?.responseEntity).toMatchObject({ instanceId: 'held', lastDirtyTimestamp: '5000' });
    expect(registry.instance('SHOP', 's1')?.status).toBe('OUT_OF_SERVICE');
    expect(registry.instance('SHOP', 'held')).toBeUndefined();
    // Every change a peer sent is marked, so the replicator will not send it back.
    expect(changes.map((c) => [c.cause, c.replicated])).toEqual([
      ['register', false],
      ['register', true],
      ['status', true],
      ['cancel', true],
    ]);
  });

  it('answers a bad item with 400 on its own and applies the rest', async () => {
    const { app, registry } = testApp();
    const body = JSON.stringify({
      replicationList: [
        { appName: 'SHOP', id: 'x', action: 'Teleport' },
        { appName: 'SHOP', id: 's1', action: 'Register', instanceInfo: { app: 'SHOP', hostName: 'h' } },
        { appName: 'SHOP', id: 's1', action: 'StatusUpdate' },
        { appName: 'SHOP', id: 's2', action: 'Register', instanceInfo: JSON.parse(JSON.stringify({})) as object },
      ],
    });
    const answer = (await (await post(app, body, '/eureka/v2/peerreplication/batch/')).json()) as Answer;
    expect(answer.responseList.map((r) => r.statusCode)).toEqual([400, 400, 400, 400]);
    expect(registry.size).toBe(0);
  });

  it('answers 400 for a body that is not a replication list, and changes nothing', async () => {
    const { app, registry } = testApp();
    for (const body of ['{"replicationList":', '{"instance":{}}', '<xml/>']) {
      const res = await post(app, body);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/^Malformed JSON body/);
    }
    expect(registry.version).toBe(0);
  });

  it('answers 400 for a batch that is not UTF-8, and changes nothing', async () => {
    const { app, registry } = testApp();
    const shop = instance('SHOP', 's1', { hostName: 'HOST' });
    const [head, tail] = renderReplicationBatch([
      { action: 'Register', appName: 'SHOP', id: 's1', instanceInfo: shop },
    ]).split('HOST');
    const bytes = (host: number[]) =>
      Buffer.concat([Buffer.from(head ?? ''), Buffer.from(host), Buffer.from(tail ?? '')]);
    const body = bytes([0x68, 0xff, 0x78]);
    const res = await app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-netflix-discovery-replication': 'true' },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('Malformed body: it is not valid UTF-8');
    expect(registry.version).toBe(0);
    // The same batch in UTF-8 is applied: only the bytes were wrong.
    const good = await app.request('/eureka/peerreplication/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-netflix-discovery-replication': 'true' },
      body: bytes([...Buffer.from('hÿx')]),
    });
    expect(((await good.json()) as Answer).responseList.map((r) => r.statusCode)).toEqual([204]);
    expect(registry.instance('SHOP', 's1')?.hostName).toBe('hÿx');
  });
});
