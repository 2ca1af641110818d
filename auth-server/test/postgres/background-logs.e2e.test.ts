// A background job while PostgreSQL is down: one warn line with the reason when the outage begins, one when it ends,
// never the driver's text or a stack, however many times the job runs in between.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAuthStore, type AuthStore } from '../../src/data-dir.ts';
import { backgroundJobLog } from '../../src/store/background-failures.ts';
import { startCleanup } from '../../src/store/oidc-storage.ts';
import { capturingLogger, tempDir } from '../helpers.ts';
import { SHARED_KEY, startPostgresServer, type PostgresServer } from './helpers.ts';

let pg: PostgresServer;
let store: AuthStore;
const dir = tempDir();
beforeAll(async () => {
  pg = await startPostgresServer();
  store = await openAuthStore({
    dataDir: dir.path,
    databaseUrl: await pg.createDatabase('background_logs'),
    keyEncryptionKey: SHARED_KEY,
  });
}, 60_000);
afterAll(async () => {
  await store?.close();
  await pg?.close();
  dir.remove();
});

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(25);
  }
}

describe('the expired-token clean-up while the database is down', () => {
  it('logs one warn line with the reason when it goes, one when it is back, and nothing between', async () => {
    const logs = capturingLogger();
    const lines = (): Record<string, unknown>[] =>
      logs
        .text()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const stop = startCleanup(store.storage, 50, backgroundJobLog(logs.logger, 'expired token clean-up', 'error'));
    try {
      await sleep(300);
      expect(lines()).toEqual([]);

      await pg.stop();
      await until(() => lines().some((l) => l.level === 40), 'the outage logged');
      // Twenty sweeps or so fail meanwhile.
      await sleep(1000);
      const down = lines();
      expect(down).toHaveLength(1);
      expect(down[0]).toMatchObject({ level: 40, reason: expect.any(String) as unknown });
      expect(String(down[0]?.msg)).toMatch(/^expired token clean-up failed: the database is unreachable \(.+\)/);
      expect(down[0]).not.toHaveProperty('err');
      expect(logs.text()).not.toMatch(/stack|Connection terminated|ECONNREFUSED|pg-pool|node_modules/i);

      await pg.start();
      await until(() => lines().length === 2, 'the recovery logged');
      await sleep(300);
      const after = lines();
      expect(after).toHaveLength(2);
      expect(after[1]).toMatchObject({
        level: 30,
        msg: 'expired token clean-up works again: the database is reachable',
      });
      expect(lines().some((l) => (l.level as number) >= 50)).toBe(false);
    } finally {
      stop();
    }
  }, 60_000);
});

describe('a background job failing for another reason', () => {
  it('is still logged with its stack each time, at the level asked for', () => {
    const logs = capturingLogger();
    const job = backgroundJobLog(logs.logger, 'signing key re-read', 'warn');
    job.failed(new Error('a bug'));
    job.failed(new Error('a bug'));
    const lines = logs
      .text()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string; err?: { stack?: string } });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'signing key re-read failed' });
    expect(lines[0]?.err?.stack).toMatch(/a bug/);
    // Recovery from no outage says nothing.
    job.succeeded();
    expect(
      logs
        .text()
        .split('\n')
        .filter((l) => l.startsWith('{')),
    ).toHaveLength(2);
  });
});
