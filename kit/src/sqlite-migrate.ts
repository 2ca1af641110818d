// Schema migrations as numbered .sql files in a directory (`001-instances.sql`), each applied in one transaction;
// SQLite's user_version records the last one applied, so a newer build upgrades an older file in place. Shared by
// every server that keeps an SQLite file (registry, config server), so they upgrade their files the same way.
import { readdirSync, readFileSync } from 'node:fs';

const FILE = /^(\d+)-[\w-]+\.sql$/;

export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The part of a better-sqlite3 `Database` the runner uses: structural, so it accepts either of the two versions
 * `openSqlite` may load.
 */
export interface MigratableDatabase {
  pragma(source: string, options: { simple: true }): unknown;
  pragma(source: string): unknown;
  exec(source: string): unknown;
  transaction(fn: () => void): () => void;
}

export interface SqliteMigrateOptions {
  /** The directory of the numbered .sql files: `new URL('./migrations/', import.meta.url)`. */
  readonly directory: URL;
  /** Names the database in the error for a file from a newer build (`registry database`). */
  readonly database?: string;
}

/**
 * The migrations in `directory`, in version order; files not named `<number>-<name>.sql` are ignored.
 *
 * @example
 * const latest = readSqliteMigrations(new URL('./migrations/', import.meta.url)).at(-1)?.version;
 */
export function readSqliteMigrations(directory: URL): SqliteMigration[] {
  return readdirSync(directory)
    .map((name) => ({ name, match: FILE.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({
      version: Number(match[1]),
      name,
      sql: readFileSync(new URL(name, directory), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Applies the migrations of `options.directory` that the database has not seen yet, each in its own transaction;
 * returns how many ran. Throws, changing nothing, when the file is at a version newer than any migration here.
 *
 * @example
 * const db = new Database(file);
 * migrateSqlite(db, { directory: new URL('./migrations/', import.meta.url), database: 'registry database' });
 */
export function migrateSqlite(db: MigratableDatabase, options: SqliteMigrateOptions): number {
  const all = readSqliteMigrations(options.directory);
  const current = Number(db.pragma('user_version', { simple: true }));
  const latest = all.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(
      `${options.database ?? 'database'} is at schema version ${current}, newer than this build (${latest})`,
    );
  }
  let applied = 0;
  for (const migration of all) {
    if (migration.version <= current) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
    applied++;
  }
  return applied;
}
