// Processes opening one new data dir at the same moment (`--workers N` on a first start): migrated once, by one.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, openDatabase } from '../../src/store/db.ts';
import { runScript } from '../../../kit/test/support/run-script.ts';
import { tempDir } from '../helpers.ts';

const db = fileURLToPath(new URL('../../src/store/db.ts', import.meta.url));

/** A process that waits for the shared start time, then opens (and so migrates) the database in `dir`. */
function openAt(dir: string, at: number): Promise<string> {
  const probe = [
    `const { openDatabase } = await import(${JSON.stringify(db)});`,
    `while (Date.now() < ${at}) {}`,
    `openDatabase({ dataDir: ${JSON.stringify(dir)} }).close();`,
    `process.stdout.write('opened');`,
  ].join('\n');
  return runScript(probe);
}

describe('the auth database opened by several processes at once', () => {
  it('is migrated once: the others wait for the first and find the tables made', async () => {
    const dir = tempDir();
    try {
      // Far enough ahead for every process to have loaded its modules and be spinning on the clock.
      const at = Date.now() + 4000;
      const opened = await Promise.all(Array.from({ length: 4 }, () => openAt(dir.path, at)));
      expect(opened).toEqual(['opened', 'opened', 'opened', 'opened']);
      const check = openDatabase({ dataDir: dir.path });
      try {
        expect(check.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
      } finally {
        check.close();
      }
    } finally {
      dir.remove();
    }
  }, 30_000);
});
