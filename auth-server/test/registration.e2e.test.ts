import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as jose from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listClients } from '../src/manage.ts';
import { openAuthStore } from '../src/data-dir.ts';
import { capturingLogger, rawRequest, settle, startServer, tempDir, type TestServer } from './helpers.ts';

const INITIAL_TOKEN = 'initial-access-token-0123456789';
const dir = tempDir();
const logs = capturingLogger();
let server: TestServer;
const seen: string[] = [INITIAL_TOKEN];

const start = (argv: readonly string[] = []): Promise<TestServer> =>
  startServer({
    dataDir: dir.path,
    logger: logs.logger,
    // The registration policy's trusted hosts: loopback by default, plus the web client's host of these tests.
    argv: [
      '--registration-token',
      INITIAL_TOKEN,
      '--registration-redirect-hosts',
      'app.example.org,*.apps.example.org,127.0.0.1',
      ...argv,
    ],
    env: { AUTH_SEED_DEV_CLIENTS: 'false' },
  });

beforeAll(async () => {
  // A hostile Host reaches the provider, as on a server beyond loopback (on loopback the kit answers it 421).
  server = await start(['--allowed-hosts', 'evil.example']);
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

/** POST /oauth2/register with raw fetch, for what openid-client would not send. */
function register(body: unknown, token: string | null = INITIAL_TOKEN, contentType = 'application/json') {
  return fetch(`${server.url}/oauth2/register`, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A call to a client configuration endpoint (RFC 7592) with a registration access token. */
function manage(uri: string, method: 'GET' | 'PUT' | 'DELETE', token: string, body?: unknown) {
  return fetch(uri, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

const clientIds = async (): Promise<string[]> => (await listClients({ dataDir: dir.path })).map((c) => c.client_id);

interface Registered {
  client_id: string;
  client_secret?: string;
  client_secret_expires_at?: number;
  client_id_issued_at: number;
  registration_access_token: string;
  registration_client_uri: string;
  scope?: string;
  grant_types: string[];
  redirect_uris: string[];
  token_endpoint_auth_method: string;
}

/** Expects a 400 with the OAuth `error` (RFC 7591 §3.2.2) and an error_description matching `reason`. */
async function expectRefusal(res: Response, error: string, reason: RegExp, what?: string): Promise<void> {
  expect(res.status, what).toBe(400);
  const body = (await res.json()) as { error: string; error_description: string };
  expect(body.error, what).toBe(error);
  expect(body.error_description, what).toMatch(reason);
}

async function registered(res: Response): Promise<Registered> {
  expect(res.status).toBe(201);
  const body = (await res.json()) as Registered;
  seen.push(body.client_secret ?? '', body.registration_access_token);
  return body;
}

async function tokenFor(id: string, secret: string, scope = 'product:read'): Promise<Response> {
  return fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
}

describe('discovery', () => {
  it('advertises the registration endpoint when an initial access token is set', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(meta.registration_endpoint).toBe(`${server.url}/oauth2/register`);
  });
});

describe('POST /oauth2/register (RFC 7591)', () => {
  it('refuses a missing or wrong initial access token with 401 invalid_token and stores nothing', async () => {
    const before = await clientIds();
    const metadata = { client_name: 'sneaky', grant_types: ['client_credentials'], scope: 'product:read' };
    const missing = await register(metadata, null);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await missing.json()) as { error: string }).error).toBe('invalid_token');
    const wrong = await register(metadata, 'initial-access-token-0123456788');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    const body = (await wrong.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_token');
    expect(body.error_description).not.toContain('0123456788');
    expect(await clientIds()).toEqual(before);
  });

  it('registers through openid-client, whose client then gets a client_credentials JWT', async () => {
    const config = await client.dynamicClientRegistration(
      new URL(server.url),
      {
        client_name: 'Batch job',
        grant_types: ['client_credentials'],
        scope: 'product:read',
        token_endpoint_auth_method: 'client_secret_post',
      },
      undefined,
      { initialAccessToken: INITIAL_TOKEN, execute: [client.allowInsecureRequests] },
    );
    const meta = config.clientMetadata();
    seen.push(meta.client_secret as string, meta.registration_access_token as string);
    expect(meta.client_id).toMatch(/^client-/);
    expect(meta.client_secret).toBeTypeOf('string');
    expect(meta.client_secret_expires_at).toBe(0);
    expect(meta.registration_client_uri).toBe(`${server.url}/oauth2/register/${meta.client_id}`);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'product:read' });
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`));
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, {
      issuer: server.url,
      audience: 'product-api',
    });
    expect(payload.client_id).toBe(meta.client_id);
    expect(payload.scope).toBe('product:read');
    // The same store as the admin API and `trellis clients`: listed, and its secret kept only as a keyed hash.
    expect(await clientIds()).toContain(meta.client_id);
    const store = await openAuthStore({ dataDir: dir.path });
    try {
      expect((await store.clients.findMetadata(meta.client_id))?.client_secret).toMatch(/^hmac-sha256\$/);
    } finally {
      await store.close();
    }
    const files = ['auth.db', 'auth.db-wal'].map((f) => {
      try {
        return readFileSync(join(dir.path, f));
      } catch {
        return Buffer.alloc(0);
      }
    });
    for (const file of files) {
      expect(file.includes(meta.client_secret as string)).toBe(false);
      expect(file.includes(meta.registration_access_token as string)).toBe(false);
    }
  });

  it('answers a registration_client_uri on the configured issuer, whatever Host or X-Forwarded-Host say', async () => {
    const { body } = await rawRequest(`${server.url}/oauth2/register`, {
      method: 'POST',
      headers: {
        host: 'evil.example',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-proto': 'https',
        authorization: `Bearer ${INITIAL_TOKEN}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ grant_types: ['client_credentials'], scope: 'product:read' }),
    });
    const reg = JSON.parse(body) as Registered;
    seen.push(reg.client_secret ?? '', reg.registration_access_token);
    expect(reg.registration_client_uri).toBe(`${server.url}/oauth2/register/${reg.client_id}`);
  });

  it('answers the registered metadata with the credentials once, never to be cached', async () => {
    const res = await register({
      client_name: 'Web',
      redirect_uris: ['https://app.example.org/cb'],
      scope: 'openid product:read',
      logo_uri: 'https://app.example.org/logo.png',
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await registered(res);
    expect(body).toMatchObject({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['https://app.example.org/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'openid product:read',
      client_secret_expires_at: 0,
    });
    expect(Math.abs(body.client_id_issued_at - Date.now() / 1000)).toBeLessThan(60);
    // Metadata Trellis does not use are ignored (RFC 7591 §2), so they are not in the answer either.
    expect(body).not.toHaveProperty('logo_uri');
  });

  it('picks the client id itself, whatever the request says', async () => {
    const body = await registered(await register({ client_id: 'reader', grant_types: ['client_credentials'] }));
    expect(body.client_id).not.toBe('reader');
  });

  it.each([
    [{ grant_types: ['password'] }, 'invalid_client_metadata', /grant_types/],
    [{ grant_types: 'client_credentials' }, 'invalid_client_metadata', /grant_types/],
    [{ token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', /token_endpoint_auth_method/],
    [{ grant_types: ['client_credentials'], response_types: ['token'] }, 'invalid_client_metadata', /response_types/],
    [{ scope: 'product:read "quoted"' }, 'invalid_client_metadata', /scope/],
    [{ redirect_uris: ['not a uri'] }, 'invalid_redirect_uri', /not a uri/],
    [{ redirect_uris: ['https://app.example.org/cb#frag'] }, 'invalid_redirect_uri', /fragment/],
    [{ redirect_uris: ['javascript:alert(1)'] }, 'invalid_redirect_uri', /http/],
    [{ grant_types: ['authorization_code'] }, 'invalid_redirect_uri', /redirect_uris/],
    [{ post_logout_redirect_uris: ['ftp://x'], grant_types: ['client_credentials'] }, 'invalid_redirect_uri', /post/],
  ])('refuses %j with 400 %s and a reason, storing nothing', async (metadata, error, reason) => {
    const before = await clientIds();
    await expectRefusal(await register(metadata), error, reason);
    expect(await clientIds()).toEqual(before);
  });

  it.each([
    [{ grant_types: ['client_credentials'], scope: 'product:read product:write' }, 'invalid_client_metadata', /write/],
    [{ grant_types: ['client_credentials'], scope: 'product:delete' }, 'invalid_client_metadata', /product:delete/],
    [{ redirect_uris: ['https://evil.example/cb'] }, 'invalid_redirect_uri', /evil\.example.*not trusted/],
    [{ redirect_uris: ['https://app.example.org.evil.example/cb'] }, 'invalid_redirect_uri', /not trusted/],
    [{ redirect_uris: ['https://apps.example.org/cb'] }, 'invalid_redirect_uri', /not trusted/],
    [{ redirect_uris: ['http://app.example.org/cb'] }, 'invalid_redirect_uri', /https/],
    [{ redirect_uris: ['https://localhost/cb'] }, 'invalid_redirect_uri', /not trusted/],
    [
      { redirect_uris: ['https://app.example.org/cb'], post_logout_redirect_uris: ['https://evil.example/bye'] },
      'invalid_redirect_uri',
      /post_logout_redirect_uris/,
    ],
    [
      { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none' },
      'invalid_client_metadata',
      /device_code is not allowed/,
    ],
  ])('refuses %j beyond the registration policy with 400 %s, storing nothing', async (metadata, error, reason) => {
    const before = await clientIds();
    await expectRefusal(await register(metadata), error, reason);
    expect(await clientIds()).toEqual(before);
  });

  it('accepts what the policy allows: trusted hosts over https, a subdomain wildcard, http on loopback', async () => {
    const body = await registered(
      await register({
        redirect_uris: ['https://app.example.org/cb', 'https://a.apps.example.org/cb', 'http://127.0.0.1:8123/cb'],
        scope: 'openid profile offline_access product:read',
        token_endpoint_auth_method: 'none',
      }),
    );
    expect(body.scope).toBe('openid profile offline_access product:read');
  });

  it('refuses a body that is not a JSON object with 400 invalid_client_metadata', async () => {
    for (const [body, type] of [
      ['{', 'application/json'],
      ['[]', 'application/json'],
    ] as const) {
      const res = await register(body, INITIAL_TOKEN, type);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata');
    }
    // Another media type is no metadata at all (HTTP's 415; bodies.e2e.test.ts tries more).
    const form = await register('grant_types=client_credentials', INITIAL_TOKEN, 'application/x-www-form-urlencoded');
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: 'unsupported_media_type' });
  });
});

describe('the client configuration endpoint (RFC 7592)', () => {
  let reg: Registered;

  beforeAll(async () => {
    reg = await registered(await register({ grant_types: ['client_credentials'], scope: 'product:read' }));
  });

  /** PUTs each update in turn, expecting 400 with its OAuth error and a description matching its reason. */
  async function expectRefusedUpdates(updates: readonly (readonly [unknown, string, RegExp])[]): Promise<void> {
    for (const [update, error, reason] of updates) {
      const res = await manage(reg.registration_client_uri, 'PUT', reg.registration_access_token, update);
      await expectRefusal(res, error, reason, JSON.stringify(update));
    }
  }

  /** The registration as the client configuration endpoint now reads it. */
  const current = async () =>
    (await (await manage(reg.registration_client_uri, 'GET', reg.registration_access_token)).json()) as Registered & {
      client_name?: string;
    };

  it('reads the registration with the registration access token, without the secret', async () => {
    const res = await manage(reg.registration_client_uri, 'GET', reg.registration_access_token);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_id: reg.client_id,
      scope: 'product:read',
      grant_types: ['client_credentials'],
      registration_client_uri: reg.registration_client_uri,
      registration_access_token: reg.registration_access_token,
    });
    expect(body).not.toHaveProperty('client_secret');
    expect(JSON.stringify(body)).not.toContain('hmac-sha256');
  });

  it('refuses a wrong token, another client’s token and admin-registered clients with 401 invalid_token', async () => {
    const other = await registered(await register({ grant_types: ['client_credentials'] }));
    const admin = await server.admin('POST', '/admin/clients', { client_id: 'by-admin' });
    expect(admin.status).toBe(201);
    for (const [uri, token] of [
      [reg.registration_client_uri, `${reg.registration_access_token}x`],
      [reg.registration_client_uri, other.registration_access_token],
      [reg.registration_client_uri, INITIAL_TOKEN],
      [`${server.url}/oauth2/register/by-admin`, reg.registration_access_token],
      [`${server.url}/oauth2/register/no-such-client`, reg.registration_access_token],
    ] as const) {
      const res = await manage(uri, 'GET', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    }
    const none = await fetch(reg.registration_client_uri);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const deleted = await manage(`${server.url}/oauth2/register/by-admin`, 'DELETE', reg.registration_access_token);
    expect(deleted.status).toBe(401);
    expect(await clientIds()).toContain('by-admin');
  });

  it('updates the metadata in place, keeping id and secret', async () => {
    const updated = await manage(reg.registration_client_uri, 'PUT', reg.registration_access_token, {
      client_id: reg.client_id,
      client_secret: reg.client_secret,
      grant_types: ['client_credentials'],
      scope: 'openid product:read',
      client_name: 'renamed',
    });
    expect(updated.status).toBe(200);
    const body = (await updated.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_id: reg.client_id,
      client_name: 'renamed',
      scope: 'openid product:read',
    });
    expect(body).not.toHaveProperty('client_secret');
    const token = await tokenFor(reg.client_id, reg.client_secret ?? '', 'product:read');
    expect(token.status).toBe(200);
    const { access_token } = (await token.json()) as { access_token: string };
    expect(jose.decodeJwt(access_token).scope).toBe('product:read');
  });

  it('refuses an update beyond the registration policy (its own scope raised, an untrusted host), unchanged', async () => {
    const base = { client_id: reg.client_id, grant_types: ['client_credentials'], scope: 'openid product:read' };
    await expectRefusedUpdates([
      [{ ...base, scope: 'product:read product:write' }, 'invalid_client_metadata', /product:write/],
      [{ ...base, scope: 'product:admin' }, 'invalid_client_metadata', /product:admin/],
      [
        { ...base, grant_types: ['authorization_code'], redirect_uris: ['https://evil.example/cb'] },
        'invalid_redirect_uri',
        /evil\.example/,
      ],
      [
        { ...base, grant_types: ['urn:ietf:params:oauth:grant-type:device_code'] },
        'invalid_client_metadata',
        /device_code/,
      ],
    ]);
    expect((await current()).scope).toBe('openid product:read');
    const write = await tokenFor(reg.client_id, reg.client_secret ?? '', 'product:write');
    expect(write.status).toBe(400);
    expect(((await write.json()) as { error: string }).error).toBe('invalid_scope');
  });

  it('refuses bad updates with 400 and a reason, leaving the registration unchanged', async () => {
    const base = { client_id: reg.client_id, grant_types: ['client_credentials'], scope: 'openid product:read' };
    await expectRefusedUpdates([
      [{ ...base, client_id: 'someone-else' }, 'invalid_client_metadata', /client_id/],
      [{ ...base, client_id: undefined }, 'invalid_client_metadata', /client_id/],
      [{ ...base, registration_access_token: 'mine' }, 'invalid_client_metadata', /registration_access_token/],
      [{ ...base, client_secret: 'my-own-choice' }, 'invalid_client_metadata', /client_secret/],
      [{ ...base, grant_types: ['implicit'] }, 'invalid_client_metadata', /grant_types/],
      [{ ...base, grant_types: ['authorization_code'], redirect_uris: ['nope'] }, 'invalid_redirect_uri', /nope/],
    ]);
    expect(await current()).toMatchObject({ scope: 'openid product:read', client_name: 'renamed' });
    expect((await tokenFor(reg.client_id, reg.client_secret ?? '')).status).toBe(200);
  });

  it('deletes the client: its credentials and its registration access token stop working', async () => {
    const res = await manage(reg.registration_client_uri, 'DELETE', reg.registration_access_token);
    expect(res.status).toBe(204);
    expect(await clientIds()).not.toContain(reg.client_id);
    const token = await tokenFor(reg.client_id, reg.client_secret ?? '');
    expect(token.status).toBe(401);
    expect(((await token.json()) as { error: string }).error).toBe('invalid_client');
    expect((await manage(reg.registration_client_uri, 'GET', reg.registration_access_token)).status).toBe(401);
  });
});

describe('a restart on the same data dir', () => {
  it('keeps dynamically registered clients and their registration access tokens', async () => {
    const reg = await registered(await register({ grant_types: ['client_credentials'], scope: 'product:read' }));
    const port = new URL(server.url).port;
    await server.running.stop();
    await settle();
    server = await start(['--port', port]);
    expect((await tokenFor(reg.client_id, reg.client_secret ?? '')).status).toBe(200);
    const read = await manage(reg.registration_client_uri, 'GET', reg.registration_access_token);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { client_id: string }).client_id).toBe(reg.client_id);
  });
});

describe('without an initial access token', () => {
  it('does not advertise registration and answers 404, storing nothing', async () => {
    const other = tempDir();
    const off = await startServer({ dataDir: other.path, env: { AUTH_SEED_DEV_CLIENTS: 'false' } });
    try {
      const meta = (await (await fetch(`${off.url}/.well-known/openid-configuration`)).json()) as Record<
        string,
        unknown
      >;
      expect(meta.token_endpoint).toBe(`${off.url}/oauth2/token`);
      expect(meta).not.toHaveProperty('registration_endpoint');
      const res = await fetch(`${off.url}/oauth2/register`, {
        method: 'POST',
        headers: { authorization: `Bearer ${INITIAL_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ grant_types: ['client_credentials'] }),
      });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: string }).error).toBe('registration_disabled');
      expect(await listClients({ dataDir: other.path })).toEqual([]);
    } finally {
      await off.running.stop();
      other.remove();
    }
  });
});

describe('logs', () => {
  it('carry no initial access token, client secret or registration access token', () => {
    const text = logs.text();
    expect(text).toContain('client registered');
    for (const value of seen.filter((v) => v !== '' && v !== 'undefined')) expect(text).not.toContain(value);
  });
});
