// The development clients and a PostgreSQL database: not seeded by development's default (production instances may
// share the database and would honour their printed secrets), seeded when asked for by name.
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers.ts';
import { postgresForThisFile, SHARED_KEY } from './helpers.ts';

const { dir, pg } = postgresForThisFile();

describe('development clients on PostgreSQL', () => {
  it('are not seeded unless asked for, the start-up notes saying why and how; --seed-dev-clients seeds them', async () => {
    const databaseUrl = await pg().createDatabase('dev_clients');
    const argv = ['--database-url', databaseUrl, '--key-encryption-key', SHARED_KEY];
    const plain = await startServer({ dataDir: dir.path, argv });
    try {
      expect((plain.running.notes ?? []).join('\n')).toMatch(
        /not seeded into the PostgreSQL database.*--seed-dev-clients/,
      );
      expect(plain.running.offers?.developmentClients).toEqual([]);
      expect(plain.running.exports).toEqual({});
      for (const id of ['reader', 'writer', 'gateway']) {
        expect((await plain.admin('GET', `/admin/clients/${id}`)).status).toBe(404);
      }
    } finally {
      await plain.running.stop();
    }
    const asked = await startServer({ dataDir: dir.path, argv: [...argv, '--seed-dev-clients'] });
    try {
      expect((asked.running.notes ?? []).join('\n')).not.toContain('not seeded');
      expect(asked.running.offers?.developmentClients?.map((c) => c.id)).toEqual(['reader', 'writer']);
      expect((await asked.admin('GET', '/admin/clients/writer')).status).toBe(200);
    } finally {
      await asked.running.stop();
    }
  }, 30_000);
});
