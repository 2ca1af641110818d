// Two auth servers on one PostgreSQL database behind one issuer: tokens, revocations, key rotations and refresh
// token rotations made at one hold at the other.
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../src/manage.ts';
import { startServer, tempDir, WEB_REDIRECT, type TestServer } from '../helpers.ts';
import {
  addClient,
  clientCredentials,
  introspect,
  postForm,
  SHARED_KEY,
  signIn,
  startInstances,
  startPostgresServer,
  type PostgresServer,
} from './helpers.ts';

const dir = tempDir();
let pg: PostgresServer;
let databaseUrl: string;
let issuer: string;
let a: TestServer;
let b: TestServer;
let batch: { id: string; secret: string };

const USER = { username: 'alice', password: 'alice-password-1' };

beforeAll(async () => {
  pg = await startPostgresServer();
  databaseUrl = await pg.createDatabase('two_servers');
  ({
    issuer,
    servers: [a, b],
  } = (await startInstances(databaseUrl, dir.path, 2, ['--health-show-details', 'always'])) as {
    issuer: string;
    servers: [TestServer, TestServer];
  });
  batch = { id: 'batch', secret: await addClient(a, { client_id: 'batch', scope: 'product:read' }) };
  // `trellis users add --database-url …`: the same database, from outside both servers.
  await addUser({ dataDir: dir.path, databaseUrl, keyEncryptionKey: SHARED_KEY }, USER);
}, 60_000);
afterAll(async () => {
  await a?.running.stop();
  await b?.running.stop();
  await pg?.close();
  dir.remove();
});

const kids = async (url: string): Promise<string[]> =>
  ((await (await fetch(`${url}/oauth2/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

describe('two auth servers on one database', () => {
  // The other instance hears a change by NOTIFY, which PostgreSQL sends as the change commits: a request there racing
  // the notification (a few ms, seen on a loaded machine) may still meet its copy, so each refusal is polled for.
  it('a client rotated or deleted at one is refused at the other as the change is told, though the other keeps the clients it read', async () => {
    const client = { id: 'cached', secret: await addClient(a, { client_id: 'cached', scope: 'product:read' }) };
    // B reads the client for these, and keeps it for its next requests.
    for (let i = 0; i < 3; i++) await clientCredentials(b.url, client);
    const rotated = await a.admin('POST', '/admin/clients/cached/rotate-secret');
    expect(rotated.status).toBe(200);
    const fresh = { id: 'cached', secret: ((await rotated.json()) as { client_secret: string }).client_secret };
    const refused = (c: { id: string; secret: string }) => async () =>
      (await postForm(b.url, '/oauth2/token', c, { grant_type: 'client_credentials' })).status;
    await expect.poll(refused(client), { timeout: 2000, interval: 25 }).toBe(401);
    await clientCredentials(b.url, fresh);
    expect((await a.admin('DELETE', '/admin/clients/cached')).status).toBe(204);
    await expect.poll(refused(fresh), { timeout: 2000, interval: 25 }).toBe(401);
  });

  it('a token issued by one verifies with the JWKS of the other, introspects there, and a revocation there holds at the first', async () => {
    const token = await clientCredentials(a.url, batch);
    const { payload } = await jose.jwtVerify(token, jose.createRemoteJWKSet(new URL(`${b.url}/oauth2/jwks`)), {
      issuer,
      audience: 'product-api',
    });
    expect(payload.client_id).toBe('batch');
    expect(await introspect(b.url, batch, token)).toMatchObject({ active: true, client_id: 'batch' });
    expect((await postForm(b.url, '/oauth2/revoke', batch, { token })).status).toBe(200);
    expect((await introspect(a.url, batch, token)).active).toBe(false);
    expect((await introspect(b.url, batch, token)).active).toBe(false);
    // The client registered at A is used at B without either restarting.
    expect((await introspect(b.url, batch, await clientCredentials(b.url, batch))).active).toBe(true);
  });

  it('a key rotation on one is used by both: the other publishes and signs with the new key, old tokens still verify', async () => {
    const before = await clientCredentials(b.url, batch);
    const rotated = await a.admin('POST', '/admin/keys/rotate');
    expect(rotated.status).toBe(201);
    const { kid } = (await rotated.json()) as { kid: string };
    // Told by NOTIFY; the periodic re-read is only the safety net.
    await expect.poll(() => kids(b.url), { timeout: 5000, interval: 50 }).toContain(kid);
    expect((await kids(b.url))[0]).toBe(kid);
    const fromB = await clientCredentials(b.url, batch);
    expect(jose.decodeProtectedHeader(fromB).kid).toBe(kid);
    const fromA = await clientCredentials(a.url, batch);
    expect(jose.decodeProtectedHeader(fromA).kid).toBe(kid);
    expect((await introspect(b.url, batch, fromA)).active).toBe(true);
    expect((await introspect(a.url, batch, fromB)).active).toBe(true);
    // Signed with the key retired at A, by B: still published and accepted by both.
    expect(await kids(a.url)).toContain(jose.decodeProtectedHeader(before).kid);
    expect((await introspect(a.url, batch, before)).active).toBe(true);
  });

  it('a refresh token rotated at one is refused as reused at the other, and the grant ends', async () => {
    const web = {
      id: 'webapp',
      redirectUri: WEB_REDIRECT,
      secret: await addClient(b, {
        client_id: 'webapp',
        redirect_uris: [WEB_REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        scope: 'openid offline_access product:read',
      }),
    };
    const tokens = await signIn(a.url, issuer, web, USER, 'openid offline_access product:read');
    expect(tokens.refresh_token).toBeTypeOf('string');
    const rotated = await postForm(a.url, '/oauth2/token', web, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(rotated.status).toBe(200);
    const next = (await rotated.json()) as { refresh_token: string; access_token: string };
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect((await introspect(b.url, web, next.access_token)).active).toBe(true);

    const reused = await postForm(b.url, '/oauth2/token', web, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
    // The replay ended the grant: the rotated refresh token and the grant's access token are dead at both.
    const after = await postForm(a.url, '/oauth2/token', web, {
      grant_type: 'refresh_token',
      refresh_token: next.refresh_token,
    });
    expect(after.status).toBe(400);
    expect((await introspect(a.url, web, next.access_token)).active).toBe(false);
  });

  it('of one refresh token used at both at once, exactly one gets new tokens', async () => {
    const web = { id: 'webapp', redirectUri: WEB_REDIRECT, secret: '' };
    web.secret = (
      (await (await a.admin('POST', '/admin/clients/webapp/rotate-secret')).json()) as {
        client_secret: string;
      }
    ).client_secret;
    for (let round = 0; round < 3; round++) {
      const tokens = await signIn(b.url, issuer, web, USER, 'openid offline_access product:read');
      const answers = await Promise.all(
        [a, b, a, b].map((s) =>
          postForm(s.url, '/oauth2/token', web, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }),
        ),
      );
      const statuses = answers.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 400, 400, 400]);
    }
  });

  it('2 × N parallel writers lose nothing: client registrations and revocations across both', async () => {
    const N = 25;
    const ids = Array.from({ length: 2 * N }, (_, i) => `parallel-${i}`);
    const created = await Promise.all(
      ids.map((id, i) => (i % 2 === 0 ? a : b).admin('POST', '/admin/clients', { client_id: id })),
    );
    expect(created.map((r) => r.status)).toEqual(ids.map(() => 201));
    for (const server of [a, b]) {
      const listed = ((await (await server.admin('GET', '/admin/clients')).json()) as { client_id: string }[]).map(
        (c) => c.client_id,
      );
      expect(listed).toEqual(expect.arrayContaining(ids));
    }
    const tokens = await Promise.all(ids.map((_, i) => clientCredentials(i % 2 === 0 ? a.url : b.url, batch)));
    const revoked = await Promise.all(
      tokens.map((token, i) => postForm(i % 2 === 0 ? b.url : a.url, '/oauth2/revoke', batch, { token })),
    );
    expect(revoked.map((r) => r.status)).toEqual(ids.map(() => 200));
    const seen = await Promise.all(tokens.map((token, i) => introspect(i % 2 === 0 ? a.url : b.url, batch, token)));
    expect(seen.filter((s) => s.active)).toEqual([]);
  });

  it('two instances starting at once on an empty database migrate once and make one signing key', async () => {
    const fresh = await pg.createDatabase('started_together');
    const together = await Promise.all(
      [0, 1].map(() =>
        startServer({
          dataDir: dir.path,
          argv: ['--database-url', fresh, '--key-encryption-key', SHARED_KEY, '--seed-dev-clients', 'false'],
        }),
      ),
    );
    try {
      const [first, second] = together as [TestServer, TestServer];
      expect(await kids(first.url)).toHaveLength(1);
      expect(await kids(second.url)).toEqual(await kids(first.url));
      // What `trellis up` prints names the database without its password.
      const notes = first.running.notes?.join('\n') ?? '';
      expect(notes).toContain(`state in PostgreSQL postgres://trellis@127.0.0.1:${pg.port}/started_together`);
      expect(notes).not.toContain(new URL(fresh).password);
    } finally {
      for (const s of together) await s.running.stop();
    }
  });

  it('names the database in health without its password, and that it hears key rotations', async () => {
    const health = await fetch(`${b.url}/actuator/health`);
    const text = await health.text();
    expect(health.status).toBe(200);
    expect(JSON.parse(text)).toMatchObject({
      components: {
        authStore: {
          status: 'UP',
          details: {
            database: 'PostgreSQL',
            url: `postgres://trellis@127.0.0.1:${pg.port}/two_servers`,
            listening: true,
          },
        },
      },
    });
    expect(text).not.toContain(new URL(databaseUrl).password);
  });
});
