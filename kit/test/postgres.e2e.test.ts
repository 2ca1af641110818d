// The kit's PostgreSQL pieces on a real server: migrations applied once by instances starting together, a pool that
// recovers from a restart and a crash without losing what was committed, transactions that roll back, safe URLs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inTransaction, isPostgresUrl, migratePostgres, openPostgres, redactDatabaseUrl } from '../src/postgres.ts';
import { startPostgresServer, type PostgresServer } from '../src/postgres-server/index.ts';

const MIGRATIONS = new URL('./fixtures/pg-migrations/', import.meta.url);

let server: PostgresServer;

beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe('redactDatabaseUrl', () => {
  it('drops the password and masks secret query parameters', () => {
    expect(redactDatabaseUrl('postgres://app:s3cret@db.internal:5432/trellis?sslmode=require&password=x')).toBe(
      'postgres://app@db.internal:5432/trellis?sslmode=require&password=[redacted]',
    );
    expect(redactDatabaseUrl('postgres://app:s3cret@db:5432/t')).not.toContain('s3cret');
    expect(redactDatabaseUrl('::not a url::')).not.toContain('::not');
  });

  it('tells PostgreSQL URLs from others', () => {
    expect(isPostgresUrl('postgres://h/db')).toBe(true);
    expect(isPostgresUrl('postgresql://h/db')).toBe(true);
    expect(isPostgresUrl('mysql://h/db')).toBe(false);
    expect(() => openPostgres('sqlite:///tmp/x.db')).toThrow(/not a PostgreSQL URL/);
  });
});

describe('migratePostgres', () => {
  it('applies each file once when two instances start at the same time, and refuses a newer schema', async () => {
    const url = await server.createDatabase('migrations');
    const [a, b] = [openPostgres(url), openPostgres(url)];
    try {
      const ran = await Promise.all([
        migratePostgres(a, { directory: MIGRATIONS, component: 'kit-test' }),
        migratePostgres(b, { directory: MIGRATIONS, component: 'kit-test' }),
      ]);
      expect(ran.sort()).toEqual([0, 2]);
      const { rows } = await a.query('SELECT version, name FROM trellis_migrations ORDER BY version');
      expect(rows).toEqual([
        { version: 1, name: '001-things.sql' },
        { version: 2, name: '002-colour.sql' },
      ]);
      await a.query("INSERT INTO things (name, colour) VALUES ('a', 'red')");
      // Another component's schema in the same database is counted apart.
      expect(
        await migratePostgres(a, { directory: MIGRATIONS, component: 'other' }).catch((e: Error) => e.message),
      ).toMatch(/already exists/);
      await a.query("INSERT INTO trellis_migrations (component, version, name) VALUES ('kit-test', 9, '009-x.sql')");
      await expect(migratePostgres(b, { directory: MIGRATIONS, component: 'kit-test' })).rejects.toThrow(
        /kit-test schema is at version 9, newer than this build \(2\)/,
      );
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });
});

describe('a pool across restarts', () => {
  it('rolls a failed transaction back and keeps what committed through a fast stop and a crash', async () => {
    const url = await server.createDatabase('restarts');
    const pool = openPostgres(url, { connectTimeoutMs: 1_000 });
    try {
      await migratePostgres(pool, { directory: MIGRATIONS, component: 'kit-test' });
      await expect(
        inTransaction(pool, async (c) => {
          await c.query("INSERT INTO things (name) VALUES ('rolled back')");
          await c.query("INSERT INTO things (name) VALUES ('rolled back')"); // unique violation
        }),
      ).rejects.toThrow(/duplicate key/);
      await inTransaction(pool, (c) => c.query("INSERT INTO things (name) VALUES ('kept')"));

      await server.stop();
      // Down: a query fails within the connect timeout, with no password in the error.
      const down = await pool.query('SELECT 1').catch((e: Error) => e);
      expect(down).toBeInstanceOf(Error);
      expect(String((down as Error).message)).not.toContain(new URL(url).password);
      await server.start();
      await inTransaction(pool, (c) => c.query("INSERT INTO things (name) VALUES ('after restart')"));

      await server.kill();
      await server.start();
      const { rows } = await pool.query<{ name: string }>('SELECT name FROM things ORDER BY id');
      expect(rows.map((r) => r.name)).toEqual(['kept', 'after restart']);
    } finally {
      await pool.end();
    }
  }, 60_000);
});
