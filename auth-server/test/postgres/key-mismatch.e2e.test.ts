// A server started with another key-encryption key than the one its signing keys were sealed with: refused at start,
// the message saying where the keys are (the data dir, or a PostgreSQL database others may share) and what to do.
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers.ts';
import { postgresForThisFile, SHARED_KEY } from './helpers.ts';

const { dir, pg } = postgresForThisFile();

const OTHER_KEY = 'another-key-encryption-key-0123456789';

describe('signing keys sealed with another key-encryption key', () => {
  it('in a PostgreSQL database: start-up names the database and the setting every instance must share', async () => {
    const argv = ['--database-url', await pg().createDatabase('key_mismatch'), '--seed-dev-clients', 'false'];
    const first = await startServer({ dataDir: `${dir.path}/a`, argv: [...argv, '--key-encryption-key', SHARED_KEY] });
    await first.running.stop();
    const refused = startServer({ dataDir: `${dir.path}/b`, argv: [...argv, '--key-encryption-key', OTHER_KEY] });
    await expect(refused).rejects.toThrow(
      /in the PostgreSQL database was sealed with another key-encryption key: every auth server sharing a database needs the same --key-encryption-key/,
    );
  }, 30_000);

  it('in the data dir: start-up names the data dir and the key to start with, and no database', async () => {
    const dataDir = `${dir.path}/c`;
    const first = await startServer({ dataDir, argv: ['--key-encryption-key', SHARED_KEY] });
    await first.running.stop();
    const refused = startServer({ dataDir, argv: ['--key-encryption-key', OTHER_KEY] });
    await expect(refused).rejects.toThrow(/in the data dir was sealed with another key-encryption key: start with/);
    await expect(refused).rejects.not.toThrow(/PostgreSQL|sharing a database/);
  }, 30_000);
});
