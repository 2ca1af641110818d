// Schema migrations as numbered .sql files next to this module, applied in order inside one transaction each;
// SQLite's user_version records the last one applied, so a newer build upgrades an older file in place.
import { readdirSync, readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';

const MIGRATIONS = new URL('./migrations/', import.meta.url);
const FILE = /^(\d+)-[\w-]+\.sql$/;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The migrations shipped with this build, in order. */
export function migrations(): Migration[] {
  return readdirSync(MIGRATIONS)
    .map((name) => ({ name, match: FILE.exec(name) }))
    .filter((entry): entry is { name: string; match: RegExpExecArray } => entry.match !== null)
    .map(({ name, match }) => ({
      version: Number(match[1]),
      name,
      sql: readFileSync(new URL(name, MIGRATIONS), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

/** Applies the migrations the database has not seen yet; returns how many ran. */
export function migrate(db: Database, all: readonly Migration[] = migrations()): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = all.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`registry database is at schema version ${current}, newer than this build (${latest})`);
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
