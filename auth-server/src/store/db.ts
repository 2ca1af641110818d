// The auth server's SQLite database: opened and migrated in `<dataDir>/auth.db`.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite, type SqliteDatabase } from '@trellis/kit';

export type Db = SqliteDatabase;

/** What a store's rows answer: at once on SQLite (better-sqlite3 is synchronous), a promise on PostgreSQL. */
export type Awaitable<T> = T | Promise<T>;

export const DB_FILE = 'auth.db';

/** Migrations in order; `PRAGMA user_version` records how many have run. */
export const MIGRATIONS = [
  '001_init.sql',
  '002_registration.sql',
  '003_failure_counts.sql',
  '004_failure_lockouts.sql',
];

/**
 * Opens (and migrates) the auth server's database: `<dataDir>/auth.db`, or an in-memory one for tests. WAL lets the
 * `trellis clients …` functions write while a running server reads.
 */
export function openDatabase(location: { dataDir: string } | ':memory:'): Db {
  let db: Db;
  if (location === ':memory:') {
    db = openSqlite(':memory:');
  } else {
    mkdirSync(location.dataDir, { recursive: true });
    db = openSqlite(join(location.dataDir, DB_FILE), { wal: true });
  }
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const version = (): number => db.pragma('user_version', { simple: true }) as number;
  if (version() >= MIGRATIONS.length) return;
  // IMMEDIATE, and the version read again inside: workers (--workers) starting together on a new data dir take turns,
  // and the ones after the first find the tables made instead of making them again.
  db.transaction(() => {
    for (let i = version(); i < MIGRATIONS.length; i++) {
      const file = MIGRATIONS[i] as string;
      db.exec(readFileSync(new URL(`./migrations/${file}`, import.meta.url), 'utf8'));
      db.pragma(`user_version = ${i + 1}`);
    }
  }).immediate();
}
