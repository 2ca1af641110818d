// Two config servers on one PostgreSQL database: a write on one reaches the other's watchers and readers, and
// parallel writers on both lose nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgresServer, type PostgresServer } from '@trellis/kit/postgres-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseReader, type EnvJson } from '../helpers.ts';
import { historyOf, OPS, propertiesOf, putProperties, replay, startJdbcServers, type ChangeJson } from './helpers.ts';

let db: PostgresServer;
let a: string;
let b: string;
let stop: () => Promise<void>;

beforeAll(async () => {
  db = await startPostgresServer();
  const started = await startJdbcServers(await db.createDatabase('two_servers'), 2);
  stop = () => started.stop();
  [a, b] = started.servers.map((s) => s.url) as [string, string];
}, 60_000);
afterAll(async () => {
  await stop();
  await db.close();
});

describe('two config servers on one PostgreSQL database', () => {
  it('tell a watcher on B of writes and rollbacks made through either server, and both serve them', async () => {
    const controller = new AbortController();
    const res = await fetch(`${b}/watch/product/default`, { signal: controller.signal });
    expect(res.status).toBe(200);
    if (res.body === null) throw new Error('no body');
    const events = sseReader(res.body);
    try {
      expect((await events.next()).event).toBe('ready');
      const started = performance.now();
      expect((await putProperties(a, 'product/default/master', { 'server.port': '7001' })).status).toBe(200);
      const change = await events.next(3000);
      expect(change.event).toBe('change');
      expect(change.data.changed).toEqual(['server.port']);
      // LISTEN/NOTIFY, not polling: the other instance hears within a fraction of a second.
      expect(change.at - started).toBeLessThan(1000);
      const env = (await (await fetch(`${b}/product/default`)).json()) as EnvJson;
      expect(env.propertySources).toEqual([{ name: 'product-default', source: { 'server.port': '7001' } }]);
      // And the other way round, through the same stream's server.
      expect((await putProperties(b, 'product/default/master', { 'server.port': '7002' })).status).toBe(200);
      expect((await events.next(3000)).data.changed).toEqual(['server.port']);
      const fromA = (await (await fetch(`${a}/product/default`)).json()) as EnvJson;
      expect(fromA.propertySources[0]?.source).toEqual({ 'server.port': '7002' });
      // A rollback through B to A's first write: the watcher hears it, and A serves the value rolled back to.
      const [first] = await historyOf(a, 'product/default/master');
      const rollback = await fetch(`${b}/admin/rollback/product/default/master`, {
        method: 'POST',
        headers: { ...OPS, 'content-type': 'application/json' },
        body: JSON.stringify({ to: first?.id }),
      });
      expect(rollback.status).toBe(200);
      expect(((await rollback.json()) as { change: ChangeJson }).change).toMatchObject({
        kind: 'rollback',
        changes: [{ key: 'server.port', old: '7002', new: '7001' }],
      });
      expect((await events.next(3000)).data.changed).toEqual(['server.port']);
      expect(await propertiesOf(a, 'product/default/master')).toEqual({ 'server.port': '7001' });
    } finally {
      controller.abort();
    }
  });

  it('lose nothing with 2 × 60 parallel writers on one scope, some of them on the same key', async () => {
    const N = 60;
    const path = 'load/default/master';
    const writes = ['A', 'B'].flatMap((server) =>
      Array.from({ length: N }, (_, i) => {
        const body: Record<string, string> = { [`own.${server}.${i}`]: `v${i}` };
        // Every fourth write of each server also sets the key they all fight over.
        if (i % 4 === 0) body.shared = `${server}-${i}`;
        return { base: server === 'A' ? a : b, body };
      }),
    );
    const answers = await Promise.all(
      writes.map(async ({ base, body }) => {
        // 120 writers queue for one scope's lock and ten pooled connections per server: on a busy machine some wait
        // past the server's bound and get a 503 with Retry-After, as a client should expect. A refused write was
        // rolled back, so sending it again is safe, and only the acknowledged ones must be in the history.
        for (let attempt = 1; ; attempt++) {
          const res = await putProperties(base, path, body);
          if (res.status === 503 && attempt < 10) {
            await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000 * Math.random());
            continue;
          }
          expect(res.status).toBe(200);
          return ((await res.json()) as { change: ChangeJson }).change;
        }
      }),
    );
    const history = await historyOf(a, path);
    // Every acknowledged write is in the history exactly once, and nothing else is.
    expect(history.map((c) => c.id).sort((x, y) => x - y)).toEqual(answers.map((c) => c.id).sort((x, y) => x - y));
    // Each change's old value is what the change before it left: the writes were serialized, none interleaved.
    const { state, mismatches } = replay(history);
    expect(mismatches).toEqual([]);
    const stored = await propertiesOf(b, path);
    expect(stored).toEqual(state);
    for (const { body } of writes) {
      for (const [key, value] of Object.entries(body)) if (key !== 'shared') expect(stored[key]).toBe(value);
    }
    // The shared key ends as the last acknowledged write of it left it.
    const lastShared = answers
      .filter((c) => c.changes.some((k) => k.key === 'shared'))
      .sort((x, y) => y.id - x.id)[0]
      ?.changes.find((k) => k.key === 'shared')?.new;
    expect(stored.shared).toBe(lastShared);
    expect(Object.keys(stored)).toHaveLength(2 * N + 1);
  });
});
