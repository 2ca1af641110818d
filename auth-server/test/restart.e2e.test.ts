import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as jose from 'jose';
import * as client from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';
import { addUser, listUsers } from '../src/manage.ts';
import { openAuthStore } from '../src/data-dir.ts';
import { discover, settle, startServer, tempDir } from './helpers.ts';

const dir = tempDir();
afterAll(() => dir.remove());

async function kids(url: string): Promise<string[]> {
  const res = await fetch(`${url}/oauth2/jwks`);
  return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
}

describe('a restart on the same data dir', () => {
  it('keeps clients, users and signing keys (refresh tokens: browser.e2e.test.ts)', async () => {
    let server = await startServer({ dataDir: dir.path });
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'batch',
      grant_types: ['client_credentials'],
      scope: 'product:read',
    });
    const { client_secret: secret } = (await created.json()) as { client_secret: string };
    await addUser({ dataDir: dir.path }, { username: 'bob', password: 'bob-password-1' });
    const firstKids = await kids(server.url);
    expect(firstKids).toHaveLength(1);
    const before = await client.clientCredentialsGrant(await discover(server.url, 'batch', secret), {
      scope: 'product:read',
    });
    const store = await openAuthStore({ dataDir: dir.path });
    // Clients live in the clients table (hashed secret), not in the model table the adapter writes.
    expect(await store.storage.find('Client', 'batch')).toBeUndefined();
    expect((await store.clients.findMetadata('batch'))?.client_secret).toMatch(/^hmac-sha256\$/);
    await store.close();
    const url = server.url;
    const port = new URL(url).port;
    await server.running.stop();
    await settle();
    server = await startServer({ dataDir: dir.path, argv: ['--port', port] });
    expect(server.url).toBe(url);
    expect(await kids(server.url)).toEqual(firstKids);
    // A token from before the restart still verifies against the JWKS after it.
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`));
    await expect(jose.jwtVerify(before.access_token, jwks, { issuer: url })).resolves.toBeDefined();
    const after = await client.clientCredentialsGrant(await discover(server.url, 'batch', secret), {
      scope: 'product:read',
    });
    expect(jose.decodeProtectedHeader(after.access_token).kid).toBe(firstKids[0]);
    expect((await listUsers({ dataDir: dir.path })).map((u) => u.username)).toContain('bob');
    await server.running.stop();
  });

  it('keeps the signing keys encrypted at rest and the key file private', () => {
    const db = readFileSync(join(dir.path, 'auth.db'));
    // A private RSA JWK carries "d", "p", "q"; sealed, none of its JSON is in the file.
    expect(db.includes('"kty":"RSA"')).toBe(false);
    expect(db.includes('"d":"')).toBe(false);
    expect(statSync(join(dir.path, 'auth-master.key')).mode & 0o777).toBe(0o600);
  });
});
