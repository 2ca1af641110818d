// The admin API's users and the findings of its fuzzing: each refusal a clear 4xx that leaves the stored lists as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tempDir, type TestServer } from './helpers.ts';

describe('the admin API', () => {
  const dir = tempDir();
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ dataDir: dir.path, argv: ['--seed-dev-clients=false'] });
  });
  afterAll(async () => {
    await server.running.stop();
    dir.remove();
  });

  const lists = async (): Promise<unknown[]> =>
    Promise.all(['/admin/clients', '/admin/users'].map(async (p) => (await server.admin('GET', p)).json()));

  /** Sends a write that must be refused with `status` and `error`, and checks that nothing stored changed. */
  async function refused(method: string, path: string, body: unknown, status: number, error: string): Promise<void> {
    const before = await lists();
    const response = await server.admin(method, path, body);
    expect(response.status).toBe(status);
    expect(await response.json()).toMatchObject({ error });
    expect(await lists()).toEqual(before);
  }

  it('adds, lists, shows and removes users, never showing a password or its hash', async () => {
    const added = await server.admin('POST', '/admin/users', {
      username: 'alice',
      password: 'correct horse battery',
      name: 'Alice',
      email: 'alice@example.org',
    });
    expect(added.status).toBe(201);
    const user = (await added.json()) as Record<string, unknown>;
    expect(Object.keys(user).sort()).toEqual(['created_at', 'email', 'name', 'username']);
    expect(await (await server.admin('GET', '/admin/users')).json()).toEqual([user]);
    expect(await (await server.admin('GET', '/admin/users/alice')).json()).toEqual(user);
    await refused('POST', '/admin/users', { username: 'alice', password: 'another password' }, 409, 'user_exists');
    expect((await server.admin('DELETE', '/admin/users/alice')).status).toBe(204);
    expect((await server.admin('GET', '/admin/users/alice')).status).toBe(404);
    expect(await (await server.admin('GET', '/admin/users')).json()).toEqual([]);
  });

  it('refuses a user without the admin token, and a bad user with the reason', async () => {
    const anonymous = await fetch(`${server.url}/admin/users`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await refused('POST', '/admin/users', { username: 'bob', password: 'short' }, 400, 'invalid_user');
    await refused('POST', '/admin/users', { username: 'bob', password: 12345678 }, 400, 'invalid_user');
    await refused(
      'POST',
      '/admin/users',
      { username: 'bob', password: 'long enough', name: 'a\u0000b' },
      400,
      'invalid_user',
    );
    await refused('POST', '/admin/users', ['bob'], 400, 'invalid_user');
  });

  it('counts a password in characters: four emoji are too short, eight are enough', async () => {
    await refused('POST', '/admin/users', { username: 'carol', password: '😀😀😀😀' }, 400, 'invalid_user');
    const added = await server.admin('POST', '/admin/users', { username: 'carol', password: '😀'.repeat(8) });
    expect(added.status).toBe(201);
  });

  it('counts client_name in characters: 200 emoji are a valid name', async () => {
    const created = await server.admin('POST', '/admin/clients', { client_id: 'emoji', client_name: '😀'.repeat(200) });
    expect(created.status).toBe(201);
    await refused(
      'POST',
      '/admin/clients',
      { client_id: 'emoji2', client_name: 'x'.repeat(201) },
      400,
      'invalid_client_metadata',
    );
  });

  it('refuses client_id and token_endpoint_auth_method null instead of taking them as absent', async () => {
    await refused('POST', '/admin/clients', { client_id: null }, 400, 'invalid_client_metadata');
    await refused(
      'POST',
      '/admin/clients',
      { client_id: 'nulls', token_endpoint_auth_method: null },
      400,
      'invalid_client_metadata',
    );
  });

  it('refuses an unknown member, naming it, where registration (RFC 7591) would ignore it', async () => {
    await refused(
      'POST',
      '/admin/clients',
      { client_id: 'typo', redirect_uri: 'https://app.example/cb' },
      400,
      'invalid_client_metadata',
    );
    const typo = await server.admin('POST', '/admin/clients', { client_id: 'typo', client_secret: 'my own secret' });
    expect(await typo.json()).toEqual({
      error: 'invalid_client_metadata',
      message: expect.stringContaining('unknown member "client_secret"') as unknown,
    });
    await refused(
      'POST',
      '/admin/users',
      { username: 'dave', password: 'long enough', role: 'admin' },
      400,
      'invalid_user',
    );
  });

  it('refuses a lone surrogate or a NUL in any string of a user, so no typed U+FFFD signs in for it', async () => {
    // JSON.stringify writes a lone surrogate as the escape \ud800, which JSON.parse turns back into one.
    const bodies = [
      { username: 'u2', password: 'SecretPW-\ud800-lone' },
      { username: 'u2', password: 'SecretPW-\u0000-nul' },
      { username: 'u2', password: 'long enough', name: 'Eve \udfff' },
      { username: 'u2', password: 'long enough', email: 'e\u0000@example.com' },
      { username: 'u2', password: 'long enough', ['x\ud800']: 1 },
    ];
    for (const body of bodies) {
      const before = await lists();
      const response = await server.admin('POST', '/admin/users', body);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        error: 'invalid_user',
        message: expect.stringMatching(/^a value contains a (lone surrogate|NUL character)/) as unknown,
      });
      expect(await lists()).toEqual(before);
    }
    const pageOf = await server.admin('GET', '/admin/users/u2');
    expect(pageOf.status).toBe(404);
  });

  it('answers rotate-secret of a public client 409 public_client and keeps it public', async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'spa',
      redirect_uris: ['https://app.example/cb'],
      token_endpoint_auth_method: 'none',
    });
    expect(created.status).toBe(201);
    await refused('POST', '/admin/clients/spa/rotate-secret', undefined, 409, 'public_client');
  });

  it('answers another method on an admin path 405 with Allow', async () => {
    const response = await server.admin('PUT', '/admin/users');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, POST');
  });
});
