import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { DB_FILE, openDatabase } from '../../src/store/db.ts';
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
