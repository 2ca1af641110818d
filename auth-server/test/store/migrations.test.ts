import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openDatabase } from '../../src/store/db.ts';
import { sqliteFailureCounts, storedKey } from '../../src/store/failure-counts.ts';
import { tempDir } from '../helpers.ts';

describe('migration 002', () => {
  it('adds the registration token column and gives clients stored with an empty scope openid', () => {
    const dir = tempDir();
    try {
      const old = openSqlite(join(dir.path, DB_FILE));
      old.exec(readFileSync(new URL('../../src/store/migrations/001_init.sql', import.meta.url), 'utf8'));
      old.pragma('user_version = 1');
      const insert = old.prepare('INSERT INTO clients VALUES (?, ?, NULL, 1, 1)');
      insert.run('empty', JSON.stringify({ scope: '', grant_types: ['client_credentials'] }));
      insert.run('scoped', JSON.stringify({ scope: 'product:read', grant_types: ['client_credentials'] }));
      old.close();
      const db = openDatabase({ dataDir: dir.path });
      const rows = db
        .prepare<[], { client_id: string; metadata: string; registration_token_hash: string | null }>(
          'SELECT client_id, metadata, registration_token_hash FROM clients ORDER BY client_id',
        )
        .all();
      db.close();
      expect(rows.map((r) => [r.client_id, (JSON.parse(r.metadata) as { scope: string }).scope])).toEqual([
        ['empty', 'openid'],
        ['scoped', 'product:read'],
      ]);
      expect(rows.every((r) => r.registration_token_hash === null)).toBe(true);
    } finally {
      dir.remove();
    }
  });
});

describe('migration 004', () => {
  it('keeps the counts stored before as failures with nothing pending and no lockout, which the new rule then locks', async () => {
    const dir = tempDir();
    try {
      const old = openSqlite(join(dir.path, DB_FILE));
      for (const file of ['001_init.sql', '002_registration.sql', '003_failure_counts.sql']) {
        old.exec(readFileSync(new URL(`../../src/store/migrations/${file}`, import.meta.url), 'utf8'));
      }
      old.pragma('user_version = 3');
      const key = 'client-secret\nsource\nlockt';
      old.prepare('INSERT INTO failure_counts VALUES (?, 1000, 9, 901000)').run(storedKey(key));
      old.close();
      const db = openDatabase({ dataDir: dir.path });
      try {
        const counts = sqliteFailureCounts(db);
        const limit = { max: 10, windowMs: 900_000, lockoutMs: 30_000, maxLockoutMs: 900_000, now: 2000 };
        expect(await counts.peek(key, 2000)).toEqual({ attempts: 9, retryAfterMs: 0 });
        // The 10th failure locks out for 30 s, as the throttle announces.
        expect(await counts.failNow(key, limit)).toEqual({ windowStart: 1000 });
        expect(await counts.peek(key, 2000)).toEqual({ attempts: 10, retryAfterMs: 30_000 });
      } finally {
        db.close();
      }
    } finally {
      dir.remove();
    }
  });
});
