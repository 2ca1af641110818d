// SQLite for every Trellis store: better-sqlite3, loaded on the first open.
import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import { errorCode } from './errors.ts';

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

export interface OpenSqliteOptions extends SqliteOptions {
  /**
   * Write-ahead logging: readers in other processes go on while one writes (`trellis` commands beside a running
   * server, `--workers`). Every file store sets it.
   */
  readonly wal?: boolean;
}

/**
 * How long a switch to WAL is tried again. SQLite answers SQLITE_BUSY at once, without the busy handler, when the
 * switch meets another connection opening the same new file (several workers on their first start did: 6 of 80
 * opens in a test of four processes at once).
 */
const WAL_SWITCH_WAIT_MS = 5000;

function switchToWal(db: SqliteDatabase): void {
  const end = Date.now() + WAL_SWITCH_WAIT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      const busy = err instanceof Error && errorCode(err) === 'SQLITE_BUSY';
      if (!busy || Date.now() >= end) throw err;
      // Opening is synchronous (better-sqlite3): a short blocking wait, at start-up only.
      Atomics.wait(pause, 0, 0, 5 + Math.random() * 20);
    }
  }
}

/**
 * Opens (or creates) an SQLite database; every Trellis store opens its file through this.
 *
 * @example
 * const db = openSqlite(join(dataDir, 'registry.db'), { wal: true });
 */
export function openSqlite(file: string, options: OpenSqliteOptions = {}): SqliteDatabase {
  const Sqlite = sqliteDriver();
  const { wal = false, ...driverOptions } = options;
  const db = new Sqlite(file, driverOptions);
  try {
    if (wal) switchToWal(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
