// Processes opening the same new SQLite files at the same instant (several workers' first start, a `trellis` command
// beside a starting server): each switch to WAL goes through, none answers SQLITE_BUSY.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqlite } from '../src/sqlite.ts';
import { runScript } from './support/run-script.ts';

const sqlite = new URL('../src/sqlite.ts', import.meta.url).pathname;
const PROCESSES = 4;
/** New files per process, each opened by all of them at one instant: unguarded, about 1 open in 13 was refused. */
const FILES = 15;
const SPACING_MS = 250;

/** A process that opens file i at `at + i × SPACING_MS`, for every i, and prints each file's journal mode. */
function openEach(dir: string, at: number): Promise<string> {
  const probe = `
const { openSqlite } = await import(${JSON.stringify(sqlite)});
const modes = [];
for (let i = 0; i < ${FILES}; i++) {
  while (Date.now() < ${at} + i * ${SPACING_MS}) {}
  const db = openSqlite(${JSON.stringify(dir)} + '/' + i + '.db', { wal: true });
  modes.push(db.pragma('journal_mode', { simple: true }));
  db.close();
}
process.stdout.write(modes.join(','));`;
  return runScript(probe);
}

describe('openSqlite with wal', () => {
  it('switches a new file to WAL however many processes open it at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-wal-'));
    try {
      // Far enough ahead for every process to have loaded the driver and be spinning on the clock.
      const at = Date.now() + 3000;
      const printed = await Promise.all(Array.from({ length: PROCESSES }, () => openEach(dir, at)));
      for (const modes of printed) expect(modes).toBe(Array(FILES).fill('wal').join(','));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('leaves the journal alone without it, and throws at once when the switch fails for another reason', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trellis-wal-'));
    try {
      const plain = openSqlite(join(dir, 'plain.db'));
      expect(plain.pragma('journal_mode', { simple: true })).toBe('delete');
      plain.close();
      // A read-only connection cannot change the journal mode of a file in rollback mode.
      expect(() => openSqlite(join(dir, 'plain.db'), { readonly: true, wal: true })).toThrow(/readonly|read-only/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
