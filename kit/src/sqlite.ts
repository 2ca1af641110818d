// SQLite for every Trellis store: better-sqlite3, loaded on the first open.
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteOptions = BetterSqlite3.Options;

const require = createRequire(import.meta.url);

/**
 * better-sqlite3 13, the Node-API build (version 12's statements, once garbage-collected, abort Node 24:
 * WiseLibs/better-sqlite3#1515). Loaded on use, so a service that keeps nothing on disk never loads the native addon;
 * require() keeps the module once loaded.
 */
function sqliteDriver(): typeof BetterSqlite3 {
  return require('better-sqlite3') as typeof BetterSqlite3;
}

/**
 * Opens (or creates) an SQLite database; every Trellis store opens its file through this.
 *
 * @example
 * const db = openSqlite(join(dataDir, 'registry.db'));
 * db.pragma('journal_mode = WAL');
 */
export function openSqlite(file: string, options?: SqliteOptions): SqliteDatabase {
  const Sqlite = sqliteDriver();
  return new Sqlite(file, options);
}
