// Each example service keeps its data in one SQLite file under the data directory.
// Scaled instances of a service share the file (WAL, busy timeout), as instances of a Spring service share one
// database.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, type SqliteDatabase, migrateSqlite, StartupError } from '@trellis/kit';

export type ExampleDatabase = SqliteDatabase;

/**
 * Opens (creating if needed) a service's SQLite file and applies its migrations; the first ones seed sample data so
 * a fresh landscape has products to show.
 *
 * @example
 * const db = openExampleDatabase({ file: 'data/examples/product.sqlite', migrations: new URL('./migrations/', import.meta.url), name: 'product' });
 */
export function openExampleDatabase(options: { file: string; migrations: URL; name: string }): ExampleDatabase {
  let db: ExampleDatabase | undefined;
  try {
    mkdirSync(dirname(options.file), { recursive: true });
    db = openSqlite(options.file, { wal: true });
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    migrateSqlite(db, { directory: options.migrations, database: `${options.name} database` });
    return db;
  } catch (err) {
    db?.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new StartupError(
      `${options.name}: cannot open ${options.file} (${reason}); check --data-dir (TRELLIS_DATA_DIR)`,
    );
  }
}
