// The development clients the auth server seeds, and what it hands over of them: reader and writer to the person at
// the terminal (structured, for trellis up's commands), the gateway's credential only to the gateway.
import { afterAll, describe, expect, it } from 'vitest';
import { openAuthStore } from '../src/data-dir.ts';
import { seedDevClients } from '../src/seed.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => dir.remove());

describe('seedDevClients', () => {
  it('offers reader and writer with the secrets the notes print, and never the gateway, whose secret goes to its variables', async () => {
    const store = await openAuthStore({ dataDir: dir.path });
    try {
      const seeded = await seedDevClients(store);
      const notes = seeded.notes.join('\n');
      expect(seeded.developmentClients.map((c) => c.id)).toEqual(['reader', 'writer']);
      for (const client of seeded.developmentClients) {
        expect(notes).toContain(`development client ${client.id} / ${client.secret} `);
        expect(await store.clients.verifySecret(client.id, client.secret)).toBe(true);
      }
      expect(seeded.developmentClients[1]?.scope).toBe('openid offline_access product:read product:write');
      expect(seeded.exports.GATEWAY_INTROSPECTION_CLIENT_ID).toBe('gateway');
      expect(JSON.stringify(seeded.developmentClients)).not.toContain(
        seeded.exports.GATEWAY_INTROSPECTION_CLIENT_SECRET,
      );
    } finally {
      await store.close();
    }
  });

  it('leaves out a client whose secret was rotated since: its seeded secret would no longer work', async () => {
    const store = await openAuthStore({ dataDir: dir.path });
    try {
      await store.clients.rotateSecret('writer');
      const seeded = await seedDevClients(store);
      expect(seeded.developmentClients.map((c) => c.id)).toEqual(['reader']);
      expect(seeded.notes).toContain('auth-server: development client writer has a rotated secret (not shown)');
    } finally {
      await store.close();
    }
  });
});
