// SQLite for every Trellis store: better-sqlite3, in the build safe on this Node, loaded on the first open.
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteOptions = BetterSqlite3.Options;

const require = createRequire(import.meta.url);
const nodeMajor = Number(process.versions.node.split('.')[0]);

/**
 * better-sqlite3, in the version that is safe on the running Node. Version 12 is a classic addon whose statements,
 * once garbage-collected, abort Node 24 (`Assertion failed: (env) != nullptr`, WiseLibs/better-sqlite3#1515);
 * version 13 is built on Node-API and fixes that, but needs Node 22 or newer. Node 20 (still what some machines
 * ship) gets 12, installed under the alias `better-sqlite3-node20`. Loaded on use, so a service that keeps nothing on
 * disk never loads the native addon; require() keeps the module once loaded.
 */
function sqliteDriver(): typeof BetterSqlite3 {
  return (nodeMajor >= 22 ? require('better-sqlite3') : require('better-sqlite3-node20')) as typeof BetterSqlite3;
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
