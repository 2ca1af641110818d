// The database stopped (and crashed) under load behind two config servers: clean 503s, health DOWN without the
// password, automatic recovery, every acknowledged write kept, and watch streams that fire again afterwards.
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgresServer, type PostgresServer } from '@trellis/kit/postgres-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@trellis/kit';
import { sseReader, startConfigServer, tempRepo } from '../helpers.ts';
import { historyOf, propertiesOf, putProperties, replay, startJdbcServers, type ChangeJson } from './helpers.ts';

let db: PostgresServer;
let databaseUrl: string;
let a: string;
let b: string;
let stop: () => Promise<void>;

beforeAll(async () => {
  db = await startPostgresServer();
  databaseUrl = await db.createDatabase('restart');
  const started = await startJdbcServers(databaseUrl, 2);
  stop = () => started.stop();
  [a, b] = started.servers.map((s) => s.url) as [string, string];
}, 60_000);
afterAll(async () => {
  await stop();
  await db.close();
});

interface Refusal {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: string;
}

/** Writers on both servers, each writing a new key as fast as it is answered, until stopped. */
function load(scope: string, writersPerServer: number) {
  const acknowledged = new Map<string, { value: string; id: number }>();
  const refused: Refusal[] = [];
  let running = true;
  let next = 0;
  const writer = async (base: string, name: string): Promise<void> => {
    while (running) {
      const i = next++;
      const key = `load.${name}.${i}`;
      const res = await putProperties(base, scope, { [key]: `v${i}` });
      if (res.status === 200) {
        const { change } = (await res.json()) as { change: ChangeJson };
        acknowledged.set(key, { value: `v${i}`, id: change.id });
      } else {
        refused.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() });
        await sleep(20);
      }
    }
  };
  const done = Promise.all(
    [a, b].flatMap((base, s) =>
      Array.from({ length: writersPerServer }, (_, w) => writer(base, `${s === 0 ? 'A' : 'B'}${w}`)),
    ),
  );
  return {
    acknowledged,
    refused,
    async stop(): Promise<void> {
      running = false;
      await done;
    },
  };
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function healthOf(base: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/actuator/health/config`);
  return { status: res.status, text: await res.text() };
}

describe.each([
  ['stopped (fast shutdown)', () => db.stop()],
  ['killed (SIGKILL, then crash recovery)', () => db.kill()],
])('the database %s under load', (_how, down) => {
  it('answers clean 503s, recovers by itself, keeps every acknowledged write and wakes the watchers', async () => {
    const scope = `load-${Date.now()}/default/master`;
    const [application] = scope.split('/');
    const password = new URL(databaseUrl).password;
    const controller = new AbortController();
    const res = await fetch(`${b}/watch/${application}/default`, { signal: controller.signal });
    if (res.body === null) throw new Error('no body');
    const events = sseReader(res.body);
    try {
      expect((await events.next()).event).toBe('ready');
      const writes = load(scope, 4);
      await until('writes before the outage', () => writes.acknowledged.size >= 40);

      await down();
      await until('refusals', () => writes.refused.length >= 5);
      // Health says DOWN, and where the database is, without its password.
      const health = await healthOf(a);
      expect(health.status).toBe(503);
      expect(health.text).toContain('"DOWN"');
      expect(health.text).toContain(`127.0.0.1:${db.port}`);
      expect(health.text).not.toContain(password);
      // Readers get the same clean 503.
      const read = await fetch(`${b}/${application}/default`);
      expect(read.status).toBe(503);
      expect(await read.text()).toMatch(/the config database is unavailable/);
      const ackedWhileDown = writes.acknowledged.size;

      await db.start();
      await until('writes after the restart', () => writes.acknowledged.size >= ackedWhileDown + 40);
      await writes.stop();

      // Every refusal was a 503 with a reason and a Retry-After, never a stack, a URL or the password.
      expect(new Set(writes.refused.map((r) => r.status))).toEqual(new Set([503]));
      for (const r of writes.refused) {
        expect(r.retryAfter).not.toBeNull();
        expect(JSON.parse(r.body)).toMatchObject({
          status: 503,
          message: expect.stringMatching(/^the config database is unavailable \(.+\); retry shortly$/) as unknown,
        });
        expect(r.body).not.toMatch(/postgres(ql)?:\/\/|127\.0\.0\.1|\bat \w+ \(/);
        expect(r.body).not.toContain(password);
      }
      // Nothing acknowledged is lost: the value is there, and so is its history entry, exact.
      const stored = await propertiesOf(a, scope);
      const history = await historyOf(b, scope);
      const ids = new Set(history.map((c) => c.id));
      for (const [key, { value, id }] of writes.acknowledged) {
        expect(stored[key], key).toBe(value);
        expect(ids.has(id), `change ${id}`).toBe(true);
      }
      const { state, mismatches } = replay(history);
      expect(mismatches).toEqual([]);
      expect(stored).toEqual(state);
      await until('health UP again', async () => (await healthOf(a)).status === 200);

      // The watch stream on B fires again for a write through A once the database is back.
      expect((await putProperties(a, scope, { 'after.restart': 'yes' })).status).toBe(200);
      await until(
        'the watch event for after.restart',
        async () => (await events.next(10_000)).data.changed?.includes('after.restart') === true,
      );
    } finally {
      controller.abort();
    }
  }, 45_000);
});

describe('a config server started while its database is unreachable', () => {
  it('refuses to start, naming the database without its password', async () => {
    const port = await freePort();
    const dir = tempRepo({});
    try {
      const start = startConfigServer({
        repo: dir.root,
        dataDir: dir.root,
        env: {
          CONFIG_BACKENDS: 'jdbc',
          TRELLIS_DATABASE_URL: `postgres://trellis:db-pass-2@127.0.0.1:${port}/trellis`,
        },
      });
      await expect(start).rejects.toThrow(
        `cannot open --database-url (TRELLIS_DATABASE_URL) postgres://trellis@127.0.0.1:${port}/trellis: connection refused`,
      );
    } finally {
      dir.remove();
    }
  });
});
