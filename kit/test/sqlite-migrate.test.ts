import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { openSqlite, type SqliteDatabase } from '../src/sqlite.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { migrateSqlite, readSqliteMigrations } from '../src/sqlite-migrate.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function migrations(files: Record<string, string>): URL {
  const dir = mkdtempSync(join(tmpdir(), 'kit-migrations-'));
  dirs.push(dir);
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return pathToFileURL(`${dir}/`);
}

const tables = (db: SqliteDatabase): string[] =>
  db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => r.name);

describe('migrateSqlite', () => {
  it('applies numbered files in numeric order, once, and records the last version', () => {
    const directory = migrations({
      '10-c.sql': 'ALTER TABLE a ADD COLUMN c TEXT;',
      '2-b.sql': 'CREATE TABLE b (x);',
      '1-a.sql': 'CREATE TABLE a (x);',
      'notes.txt': 'not a migration',
    });
    expect(readSqliteMigrations(directory).map((m) => m.name)).toEqual(['1-a.sql', '2-b.sql', '10-c.sql']);
    const db = openSqlite(':memory:');
    expect(migrateSqlite(db, { directory })).toBe(3);
    expect(migrateSqlite(db, { directory })).toBe(0);
    expect(db.pragma('user_version', { simple: true })).toBe(10);
    expect(tables(db)).toEqual(['a', 'b']);
    db.close();
  });

  it('rolls a failing migration back whole and keeps the version of the last good one', () => {
    const directory = migrations({
      '001-a.sql': 'CREATE TABLE a (x);',
      '002-broken.sql': 'CREATE TABLE b (x); INSERT INTO missing VALUES (1);',
    });
    const db = openSqlite(':memory:');
    expect(() => migrateSqlite(db, { directory })).toThrow(/no such table: missing/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(tables(db)).toEqual(['a']);
    db.close();
  });

  it('refuses a database from a newer build, naming it, and changes nothing', () => {
    const directory = migrations({ '001-a.sql': 'CREATE TABLE a (x);' });
    const db = openSqlite(':memory:');
    db.pragma('user_version = 7');
    expect(() => migrateSqlite(db, { directory, database: 'test database' })).toThrow(
      'test database is at schema version 7, newer than this build (1)',
    );
    expect(tables(db)).toEqual([]);
    db.close();
  });
});
