// The replicator between in-process nodes: each node's app answers the other's batches through app.request, so the
// protocol, the per-item answers and the loop guard are exercised without sockets.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PeerHttp, PeerRequest } from '../../src/peers/peer-http.ts';
import { parsePeerUrl } from '../../src/peers/peer-url.ts';
import { PeerReplicator } from '../../src/peers/replicator.ts';
import type { ReplicatorOptions } from '../../src/peers/replicator.ts';
import { instance, silentLogger, testApp } from '../helpers.ts';
import type { TestApp } from '../helpers.ts';

afterEach(() => {
  vi.useRealTimers();
});

/** A transport that hands each request to a node's app and records it. */
function via(node: TestApp, sent: PeerRequest[] = []): PeerHttp {
  return async (req) => {
    sent.push(req);
    const url = new URL(req.url);
    const res = await node.app.request(url.pathname + url.search, {
      method: req.method,
      headers: req.headers,
      ...(req.body === undefined ? {} : { body: req.body }),
    });
    return { status: res.status, body: await res.text() };
  };
}

function replicator(from: TestApp, http: PeerHttp, extra: Partial<ReplicatorOptions> = {}): PeerReplicator {
  const r = new PeerReplicator({
    registry: from.registry,
    peers: [parsePeerUrl('http://peer:8762/eureka', undefined)],
    http,
    log: silentLogger(),
    batchDelayMs: 10_000,
    ...extra,
  });
  r.start();
  return r;
}

interface Batch {
  replicationList: { action: string; appName: string; id: string; status?: string; instanceInfo?: object }[];
}
const actions = (req: PeerRequest | undefined): string[] =>
  (JSON.parse(req?.body ?? '{"replicationList":[]}') as Batch).replicationList.map((i) => `${i.action} ${i.id}`);

describe('PeerReplicator', () => {
  it("sends every local change to the peer in one batch with Eureka's replication header, and the peer applies it", async () => {
    const a = testApp();
    const b = testApp();
    const sent: PeerRequest[] = [];
    const toB = replicator(a, via(b, sent));
    a.registry.register(instance('REVIEW', 'r1'));
    a.registry.register(instance('REVIEW', 'r2'));
    a.registry.renew('REVIEW', 'r1');
    a.registry.setStatusOverride('REVIEW', 'r2', 'OUT_OF_SERVICE');
    a.registry.cancel('REVIEW', 'r1');
    expect(sent).toHaveLength(0); // batched until the delay or flush
    await toB.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe('http://peer:8762/eureka/peerreplication/batch');
    expect(sent[0]?.headers['x-netflix-discovery-replication']).toBe('true');
    expect(actions(sent[0])).toEqual(['Register r1', 'Register r2', 'Heartbeat r1', 'StatusUpdate r2', 'Cancel r1']);
    expect(b.registry.instance('REVIEW', 'r1')).toBeUndefined();
    expect(b.registry.instance('REVIEW', 'r2')?.status).toBe('OUT_OF_SERVICE');
    expect(toB.statuses()).toMatchObject([{ url: 'http://peer:8762/eureka', state: 'reachable', queued: 0 }]);
    toB.stop();
  });

  it('never sends back what a peer sent (no replication loop between two nodes)', async () => {
    const a = testApp();
    const b = testApp();
    const aToB: PeerRequest[] = [];
    const bToA: PeerRequest[] = [];
    const ab = replicator(a, via(b, aToB));
    const ba = replicator(b, via(a, bToA));
    a.registry.register(instance('REVIEW', 'r1'));
    a.registry.renew('REVIEW', 'r1');
    await ab.flush();
    await ba.flush();
    expect(b.registry.instance('REVIEW', 'r1')).toBeDefined();
    expect(aToB).toHaveLength(1);
    expect(bToA).toHaveLength(0);
    expect(ba.statuses()[0]?.queued).toBe(0);
    ab.stop();
    ba.stop();
  });

  it('re-registers an instance on the peer when the peer answers a replicated heartbeat with 404', async () => {
    const a = testApp();
    const b = testApp();
    // Registered before replication started: the peer never heard of it.
    a.registry.register(instance('REVIEW', 'r1', { metadata: { zone: 'z1' } }));
    const sent: PeerRequest[] = [];
    const toB = replicator(a, via(b, sent));
    a.registry.renew('REVIEW', 'r1');
    await toB.flush();
    expect(actions(sent[0])).toEqual(['Heartbeat r1']);
    expect(b.registry.instance('REVIEW', 'r1')).toBeUndefined();
    await toB.flush();
    expect(actions(sent[1])).toEqual(['Register r1']);
    expect(b.registry.instance('REVIEW', 'r1')?.metadata).toEqual({ zone: 'z1' });
    toB.stop();
  });

  it('takes the peer’s copy when it answers a heartbeat with 409 (the peer holds a newer registration)', async () => {
    const a = testApp();
    const b = testApp();
    a.registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 1000 }));
    b.registry.register(instance('REVIEW', 'r1', { lastDirtyTimestamp: 2000, metadata: { version: 'new' } }));
    const sent: PeerRequest[] = [];
    const toB = replicator(a, via(b, sent));
    const changes: boolean[] = [];
    a.registry.onChange((c) => changes.push(c.replicated));
    a.registry.renew('REVIEW', 'r1');
    await toB.flush();
    expect(a.registry.instance('REVIEW', 'r1')).toMatchObject({
      lastDirtyTimestamp: 2000,
      metadata: { version: 'new' },
    });
    // Taken as a peer's change: nothing new to send back.
    expect(changes).toEqual([true]);
    expect(toB.statuses()[0]?.queued).toBe(0);
    toB.stop();
  });

  it('sends a batch the peer refuses as too large (413) again in halves, and drops an item it refuses alone', async () => {
    const a = testApp();
    const b = testApp();
    const sent: PeerRequest[] = [];
    const forward = via(b);
    // A peer whose body limit fits two items, and never the instance "huge".
    const small: PeerHttp = async (req) => {
      sent.push(req);
      const items = actions(req);
      if (items.length > 2 || items.includes('Register huge'))
        return { status: 413, body: '{"error":"payload_too_large"}' };
      return forward(req);
    };
    const toB = replicator(a, small);
    for (const id of ['r1', 'r2', 'r3', 'r4', 'r5', 'huge']) a.registry.register(instance('REVIEW', id));
    await toB.flush();
    await vi.waitFor(() => expect(toB.statuses()[0]?.queued).toBe(0));
    expect(sent.map((req) => actions(req).length)).toEqual([6, 3, 2, 2, 2, 1, 1]);
    expect(['r1', 'r2', 'r3', 'r4', 'r5'].map((id) => b.registry.instance('REVIEW', id)?.instanceId)).toEqual([
      'r1',
      'r2',
      'r3',
      'r4',
      'r5',
    ]);
    expect(b.registry.instance('REVIEW', 'huge')).toBeUndefined();
    expect(toB.statuses()[0]).toMatchObject({ state: 'reachable', dropped: 1 });
    toB.stop();
  });

  it('retries a down peer with growing delays and drops items once their lease would have expired', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const a = testApp({ registryOptions: { clock: Date.now } });
    const attempts: number[] = [];
    const down: PeerHttp = () => {
      attempts.push(Date.now());
      return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    };
    const toPeer = replicator(a, down, { batchDelayMs: 100, backoff: { initialDelayMs: 200, maxDelayMs: 800 } });
    const start = Date.now();
    a.registry.register(instance('REVIEW', 'r1', { durationInSecs: 3 }));
    for (let i = 0; i < 5; i++) a.registry.renew('REVIEW', 'r1');
    await vi.advanceTimersByTimeAsync(2000);
    const status = toPeer.statuses()[0];
    expect(status).toMatchObject({ state: 'unreachable', lastError: 'ECONNREFUSED' });
    // One register and one heartbeat (later heartbeats of the same instance replace the queued one).
    expect(status?.queued).toBe(2);
    const gaps = attempts.map((t, i) => t - (attempts[i - 1] ?? start));
    expect(gaps.slice(0, 4)).toEqual([100, 200, 400, 800]);
    await vi.advanceTimersByTimeAsync(3000);
    expect(toPeer.statuses()[0]).toMatchObject({ queued: 0, dropped: 2 });
    const tried = attempts.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(attempts.length).toBe(tried);
    toPeer.stop();
  });
});
