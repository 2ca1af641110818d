// The PostgreSQL store's LISTEN connection: taken up again after the database restarts or the connection stops
// answering, each time telling subscribers once that anything may have changed.
import { setTimeout as sleep } from 'node:timers/promises';
import { openPostgres } from '@trellis/kit';
import { startPostgresServer, type PostgresServer } from '@trellis/kit/postgres-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresPropertyStore } from '../../src/store/postgres.ts';
import type { PropertyScope, PropertyStore } from '../../src/store/properties.ts';
import { silentLogger } from '../helpers.ts';

let db: PostgresServer;

beforeAll(async () => {
  db = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  await db.close();
});

const scope: PropertyScope = { application: 'product', profile: 'default', label: 'master' };

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Writes until the store answers (its pool may hand out a connection the restart has just ended). */
async function writeWhenUp(store: PropertyStore, set: Record<string, string>): Promise<void> {
  await until('a write to succeed', () =>
    store.write({ scope, set, actor: 't' }).then(
      () => true,
      () => false,
    ),
  );
}

/** Two stores on one new database, B's notifications recorded. */
async function pair(name: string, options: { probeMs?: number } = {}) {
  const url = await db.createDatabase(name);
  const open = () => openPostgresPropertyStore({ url, logger: silentLogger(), reconnectMs: 100, ...options });
  const a = await open();
  const b = await open();
  const heard: (PropertyScope | undefined)[] = [];
  b.subscribe((s) => heard.push(s));
  return { url, a, b, heard, close: () => Promise.all([a.close(), b.close()]) };
}

describe('the PostgreSQL store’s LISTEN connection', () => {
  it('comes back after the database restarts, telling subscribers once that anything may have changed', async () => {
    const { a, b, heard, close } = await pair('restart');
    try {
      await db.restart();
      await until('the reconnection notice', () => heard.length > 0);
      expect(heard).toEqual([undefined]);
      await until('B listening again', async () => (await b.health()).details?.listening === true);
      await writeWhenUp(a, { after: 'restart' });
      await until('the write from A', () => heard.length > 1);
      expect(heard).toEqual([undefined, scope]);
      // Once: nothing more arrives for the one restart.
      await sleep(300);
      expect(heard).toEqual([undefined, scope]);
    } finally {
      await close();
    }
  });

  it('is replaced when it stops answering without closing (a frozen server process)', async () => {
    const { url, a, heard, close } = await pair('frozen', { probeMs: 200 });
    const admin = openPostgres(url);
    let frozen: number | undefined;
    try {
      // The server process behind B's LISTEN connection (the newest one: B opened after A).
      const { rows } = await admin.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE application_name = 'trellis-config-server-listen' AND datname = current_database()
         ORDER BY backend_start DESC LIMIT 1`,
      );
      frozen = rows[0]?.pid;
      if (frozen === undefined) throw new Error('no LISTEN connection found');
      // SIGSTOP: the socket stays open and silent, as behind a vanished host; no error ever arrives on it.
      process.kill(frozen, 'SIGSTOP');
      await until('the reconnection notice', () => heard.length > 0, 5000);
      expect(heard).toEqual([undefined]);
      await a.write({ scope, set: { after: 'freeze' }, actor: 't' });
      await until('the write from A', () => heard.length > 1, 5000);
      expect(heard).toEqual([undefined, scope]);
    } finally {
      if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
      await admin.end();
      await close();
    }
  });
});
