// Schema migrations as numbered .sql files next to this module (`001-properties.sql`), each applied in one
// transaction; SQLite's user_version records the last one applied, so a newer build upgrades an older file in place.
import { readdirSync, readFileSync } from 'node:fs';
import type { Database } from 'better-sqlite3';

const MIGRATIONS = new URL('./migrations/', import.meta.url);
const FILE = /^(\d+)-[\w-]+\.sql$/;

/** Applies the migrations the database has not seen yet; returns how many ran. */
export function migrate(db: Database): number {
  const all = readdirSync(MIGRATIONS)
    .map((name) => ({ name, match: FILE.exec(name) }))
    .filter((e): e is { name: string; match: RegExpExecArray } => e.match !== null)
    .map(({ name, match }) => ({ version: Number(match[1]), sql: readFileSync(new URL(name, MIGRATIONS), 'utf8') }))
    .sort((a, b) => a.version - b.version);
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = all.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`config database is at schema version ${current}, newer than this build (${latest})`);
  }
  let applied = 0;
  for (const m of all) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied++;
  }
  return applied;
}
