import * as jose from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  capturingLogger,
  discover,
  rawRequest,
  startServer,
  tempDir,
  type TestServer,
} from './helpers.ts';

const dir = tempDir();
const logs = capturingLogger();
let server: TestServer;
let readerSecret: string;
let writerSecret: string;

beforeAll(async () => {
  // A hostile Host reaches the provider, as on a server beyond loopback (on loopback the kit answers it 421).
  server = await startServer({ dataDir: dir.path, logger: logs.logger, argv: ['--allowed-hosts', 'evil.example'] });
  const notes = server.running.notes ?? [];
  readerSecret = /development client reader \/ (\S+)/.exec(notes.join('\n'))?.[1] ?? '';
  writerSecret = /development client writer \/ (\S+)/.exec(notes.join('\n'))?.[1] ?? '';
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

describe('discovery', () => {
  it('publishes the issuer and the /oauth2 endpoints that openid-client reads', async () => {
    const config = await discover(server.url, 'reader', readerSecret);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(server.url);
    expect(meta.token_endpoint).toBe(`${server.url}/oauth2/token`);
    expect(meta.jwks_uri).toBe(`${server.url}/oauth2/jwks`);
    expect(meta.introspection_endpoint).toBe(`${server.url}/oauth2/introspect`);
    expect(meta.revocation_endpoint).toBe(`${server.url}/oauth2/revoke`);
    expect(meta.end_session_endpoint).toBe(`${server.url}/oauth2/logout`);
    expect(meta.device_authorization_endpoint).toBe(`${server.url}/oauth2/device_authorization`);
    expect(meta.grant_types_supported).toEqual(
      expect.arrayContaining(['client_credentials', 'authorization_code', 'refresh_token']),
    );
    expect(meta.token_endpoint_auth_methods_supported).not.toContain('client_secret_jwt');
  });
});

describe('client_credentials', () => {
  it('issues an RS256 JWT for product-api that verifies against the JWKS', async () => {
    const config = await discover(server.url, 'reader', readerSecret);
    const tokens = await client.clientCredentialsGrant(config, { scope: 'product:read' });
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`));
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.access_token, jwks, {
      issuer: server.url,
      audience: 'product-api',
    });
    expect(protectedHeader.alg).toBe('RS256');
    // Spring Security's resource server refuses RFC 9068's at+jwt by default (see oidc/provider.ts).
    expect(protectedHeader.typ).toBe('JWT');
    expect(payload.scope).toBe('product:read');
    expect(payload.client_id).toBe('reader');
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000 + 200);
    expect(payload.exp).toBeLessThanOrEqual(Date.now() / 1000 + 301);
  });

  it('accepts client_secret_post too', async () => {
    const config = await discover(server.url, 'writer', writerSecret, 'post');
    const tokens = await client.clientCredentialsGrant(config, { scope: 'product:read product:write' });
    expect(jose.decodeJwt(tokens.access_token).scope).toBe('product:read product:write');
  });

  it('refuses a scope the client is not registered for with invalid_scope', async () => {
    const config = await discover(server.url, 'reader', readerSecret);
    const err = await client.clientCredentialsGrant(config, { scope: 'product:write' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.ResponseBodyError);
    expect((err as client.ResponseBodyError).error).toBe('invalid_scope');
  });

  it('refuses a wrong secret with 401 invalid_client in RFC 6749 form', async () => {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('writer:not-the-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=product%3Aread',
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client');
    expect(typeof body.error_description).toBe('string');
    expect(JSON.stringify(body)).not.toContain('not-the-secret');
  });

  it('refuses a client after ten failures from one source, and forgets them on a success before that', async () => {
    // A client of its own: locked out from loopback, it could not serve the tests after this one.
    const created = await server.admin('POST', '/admin/clients', { client_id: 'lockout', scope: 'product:read' });
    const { client_secret: secret } = (await created.json()) as { client_secret: string };
    const attempt = async (value: string): Promise<number> => {
      const res = await fetch(`${server.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'lockout', client_secret: value }),
      });
      await res.body?.cancel();
      return res.status;
    };
    for (let i = 0; i < 9; i++) expect(await attempt(`wrong-${i}`)).toBe(401);
    expect(await attempt(secret)).toBe(200);
    for (let i = 0; i < 10; i++) expect(await attempt(`wrong-${i}`)).toBe(401);
    expect(await attempt(secret)).toBe(429);
  });
});

describe('errors in RFC 6749 form', () => {
  it('answers an unknown grant type with unsupported_grant_type', async () => {
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: 'reader', client_secret: readerSecret }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('unsupported_grant_type');
  });

  it('answers an unknown resource indicator with invalid_target', async () => {
    const config = await discover(server.url, 'reader', readerSecret);
    const err = await client
      .clientCredentialsGrant(config, { scope: 'product:read', resource: 'https://elsewhere.example/api' })
      .catch((e: unknown) => e);
    expect((err as client.ResponseBodyError).error).toBe('invalid_target');
  });
});

describe('device authorization', () => {
  it('starts a device flow and answers authorization_pending while the user has not approved', async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'tv',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      scope: 'openid product:read',
    });
    const { client_secret } = (await created.json()) as { client_secret: string };
    const config = await discover(server.url, 'tv', client_secret);
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid product:read' });
    expect(device.user_code).toMatch(/^[A-Z]{4}-?[A-Z]{4}$/);
    expect(device.verification_uri).toBe(`${server.url}/oauth2/device`);
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: device.device_code,
        client_id: 'tv',
        client_secret,
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('authorization_pending');
  });
});

describe('/admin/clients', () => {
  it('refuses calls without the admin credential with 401 and a Bearer challenge', async () => {
    const res = await fetch(`${server.url}/admin/clients`, {
      headers: { authorization: 'Bearer wrong-token-0123456' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('creates a client with its secret shown once, then lists, shows, rotates and deletes it', async () => {
    const created = await server.admin('POST', '/admin/clients', { client_id: 'svc', scope: 'product:read' });
    expect(created.status).toBe(201);
    const { client: view, client_secret: secret } = (await created.json()) as {
      client: Record<string, unknown>;
      client_secret: string;
    };
    expect(view).toMatchObject({ client_id: 'svc', grant_types: ['client_credentials'] });
    const listed = await (await server.admin('GET', '/admin/clients')).text();
    expect(listed).toContain('"svc"');
    expect(listed).not.toContain(secret);
    expect(listed).not.toContain('hmac-sha256');
    const shown = (await (await server.admin('GET', '/admin/clients/svc')).json()) as Record<string, unknown>;
    expect(shown).not.toHaveProperty('client_secret');

    const config = await discover(server.url, 'svc', secret);
    await client.clientCredentialsGrant(config, { scope: 'product:read' });
    const rotated = (await (await server.admin('POST', '/admin/clients/svc/rotate-secret')).json()) as {
      client_secret: string;
    };
    expect(rotated.client_secret).not.toBe(secret);
    const old = await client.clientCredentialsGrant(config, { scope: 'product:read' }).catch((e: unknown) => e);
    // openid-client reports a 401 with a WWW-Authenticate challenge as its own error class; the status is common.
    expect((old as { status?: number }).status).toBe(401);
    await client.clientCredentialsGrant(await discover(server.url, 'svc', rotated.client_secret), {
      scope: 'product:read',
    });

    expect((await server.admin('DELETE', '/admin/clients/svc')).status).toBe(204);
    expect((await server.admin('GET', '/admin/clients/svc')).status).toBe(404);
  });

  it('answers bad metadata with 400 and what to fix, and a duplicate id with 409', async () => {
    const bad = await server.admin('POST', '/admin/clients', { client_id: 'x', grant_types: ['authorization_code'] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/redirect_uris/);
    const dup = await server.admin('POST', '/admin/clients', { client_id: 'reader' });
    expect(dup.status).toBe(409);
    const notJson = await fetch(`${server.url}/admin/clients`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
  });
});

describe('key rotation', () => {
  it('signs with the new key at once and keeps the old one in the JWKS for tokens it signed', async () => {
    const config = await discover(server.url, 'reader', readerSecret);
    const before = await client.clientCredentialsGrant(config, { scope: 'product:read' });
    const oldKid = jose.decodeProtectedHeader(before.access_token).kid;
    const rotated = await server.admin('POST', '/admin/keys/rotate');
    expect(rotated.status).toBe(201);
    const { kid } = (await rotated.json()) as { kid: string };
    const after = await client.clientCredentialsGrant(config, { scope: 'product:read' });
    expect(jose.decodeProtectedHeader(after.access_token).kid).toBe(kid);
    const jwks = (await (await fetch(`${server.url}/oauth2/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([kid, oldKid]);
    expect(jwks.keys.every((k) => k.d === undefined)).toBe(true);
    const set = jose.createLocalJWKSet(jwks);
    await expect(jose.jwtVerify(before.access_token, set, { issuer: server.url })).resolves.toBeDefined();
  });
});

describe('behind a proxy', () => {
  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'auth.example.org' };

  it('ignores X-Forwarded-* from peers that are not trusted proxies', async () => {
    const meta = (await (
      await fetch(`${server.url}/.well-known/openid-configuration`, { headers: forwarded })
    ).json()) as {
      token_endpoint: string;
    };
    expect(meta.token_endpoint).toBe(`${server.url}/oauth2/token`);
  });

  it('shows public URLs in discovery when a trusted proxy forwards the request', async () => {
    const proxied = tempDir();
    const behind = await startServer({
      dataDir: proxied.path,
      argv: ['--trusted-proxies', '127.0.0.1,::1', '--issuer', 'https://auth.example.org'],
    });
    try {
      const meta = (await (
        await fetch(`${behind.url}/.well-known/openid-configuration`, { headers: forwarded })
      ).json()) as { issuer: string; token_endpoint: string; jwks_uri: string };
      expect(meta.issuer).toBe('https://auth.example.org');
      expect(meta.token_endpoint).toBe('https://auth.example.org/oauth2/token');
      expect(meta.jwks_uri).toBe('https://auth.example.org/oauth2/jwks');
      // Even a trusted proxy cannot move the endpoints off the configured issuer.
      const moved = (await (
        await fetch(`${behind.url}/.well-known/openid-configuration`, {
          headers: { 'x-forwarded-proto': 'http', 'x-forwarded-host': 'evil.example' },
        })
      ).json()) as { issuer: string; token_endpoint: string };
      expect(moved.token_endpoint).toBe('https://auth.example.org/oauth2/token');
    } finally {
      await behind.running.stop();
      proxied.remove();
    }
  });
});

describe('URLs the provider writes come from the configured issuer', () => {
  const hostile: Record<string, string>[] = [
    { host: 'evil.example' },
    { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
    { forwarded: 'host=evil.example;proto=https', 'x-forwarded-port': '666' },
  ];

  it.each(hostile)('in discovery, whatever %j says', async (headers) => {
    const { status, body } = await rawRequest(`${server.url}/.well-known/openid-configuration`, { headers });
    expect(status).toBe(200);
    const meta = JSON.parse(body) as Record<string, unknown>;
    expect(meta.issuer).toBe(server.url);
    expect(meta.token_endpoint).toBe(`${server.url}/oauth2/token`);
    expect(meta.jwks_uri).toBe(`${server.url}/oauth2/jwks`);
    expect(meta.authorization_endpoint).toBe(`${server.url}/oauth2/authorize`);
    expect(body).not.toContain('evil.example');
  });

  it('in discovery asked with an absolute-form target naming another host (which Koa would take as the URL)', async () => {
    const { status, body } = await rawRequest(server.url, {
      headers: { host: 'evil.example' },
      target: 'http://evil.example/.well-known/openid-configuration',
    });
    expect(status).toBe(200);
    const meta = JSON.parse(body) as Record<string, unknown>;
    expect(meta.token_endpoint).toBe(`${server.url}/oauth2/token`);
    expect(body).not.toContain('evil.example');
  });

  it('in the redirect to the login page', async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'web-host',
      redirect_uris: ['http://127.0.0.1:1/cb'],
      scope: 'openid',
    });
    expect(created.status).toBe(201);
    const query = new URLSearchParams({
      client_id: 'web-host',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: 'http://127.0.0.1:1/cb',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    });
    const res = await rawRequest(`${server.url}/oauth2/authorize?${query.toString()}`, {
      headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' },
    });
    expect(res.status).toBe(303);
    expect(res.location?.startsWith(`${server.url}/oauth2/interaction/`)).toBe(true);
  });

  it('in the device flow verification URI', async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'tv-host',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      token_endpoint_auth_method: 'none',
      scope: 'openid',
    });
    expect(created.status).toBe(201);
    const { body } = await rawRequest(`${server.url}/oauth2/device_authorization`, {
      method: 'POST',
      headers: { host: 'evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: 'client_id=tv-host&scope=openid',
    });
    const answer = JSON.parse(body) as { verification_uri?: string };
    expect(answer.verification_uri).toBe(`${server.url}/oauth2/device`);
  });
});

describe('start-up', () => {
  it('refuses development seeding with NODE_ENV=production before touching the data dir', async () => {
    const prod = tempDir();
    await expect(startServer({ dataDir: `${prod.path}/data`, env: { NODE_ENV: 'production' } })).rejects.toThrow(
      /refused with NODE_ENV=production/,
    );
    prod.remove();
  });
});

describe('logs', () => {
  it('never carry a client secret', () => {
    const text = logs.text();
    expect(text).toContain('token request refused');
    expect(readerSecret.length).toBeGreaterThan(20);
    expect(text).not.toContain(readerSecret);
    expect(text).not.toContain(writerSecret);
    expect(text).not.toContain('not-the-secret');
  });
});

describe('clients the provider must accept', () => {
  it('gives a client registered without scope only openid, and lets it get a token', async () => {
    const created = await server.admin('POST', '/admin/clients', { client_id: 'no-scope' });
    expect(created.status).toBe(201);
    const { client, client_secret } = (await created.json()) as { client: { scope: string }; client_secret: string };
    expect(client.scope).toBe('openid');
    const config = await discover(server.url, 'no-scope', client_secret);
    const tokens = await client_credentials(config);
    expect(jose.decodeJwt(tokens.access_token).scope).toBeUndefined();
    const err = await client_credentials(config, 'product:read').catch((e: unknown) => e);
    expect((err as client.ResponseBodyError).error).toBe('invalid_scope');
  });

  it('issues ES256 tokens to clients when the keys are ES256', async () => {
    const es = tempDir();
    const server256 = await startServer({ dataDir: es.path, argv: ['--signing-alg', 'ES256'] });
    try {
      const created = await server256.admin('POST', '/admin/clients', { client_id: 'svc', scope: 'product:read' });
      const { client_secret } = (await created.json()) as { client_secret: string };
      const tokens = await client_credentials(await discover(server256.url, 'svc', client_secret), 'product:read');
      expect(jose.decodeProtectedHeader(tokens.access_token).alg).toBe('ES256');
    } finally {
      await server256.running.stop();
      es.remove();
    }
  });
});

function client_credentials(config: client.Configuration, scope?: string) {
  return client.clientCredentialsGrant(config, scope === undefined ? {} : { scope });
}
