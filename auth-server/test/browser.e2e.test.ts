import type { Server } from 'node:http';
import * as jose from 'jose';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../kit/test/support/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../src/manage.ts';
import {
  capturingLogger,
  discover,
  startCallbackApp,
  settle,
  startServer,
  tempDir,
  type TestServer,
} from './helpers.ts';

const PASSWORD = 'correct horse battery staple';
const dir = tempDir();
const logs = capturingLogger();
let server: TestServer;
let callback: Server;
let redirectUri: string;
let browser: Browser;
let page: Page;
let secret: string;
let config: client.Configuration;
const seenTokens: string[] = [];

beforeAll(async () => {
  server = await startServer({ dataDir: dir.path, logger: logs.logger });
  ({ server: callback, redirectUri } = await startCallbackApp());
  await addUser(
    { dataDir: dir.path },
    { username: 'alice', password: PASSWORD, name: 'Alice', email: 'alice@example.org' },
  );
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'webapp',
    client_name: 'Web App',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid offline_access profile email product:read',
  });
  expect(created.status).toBe(201);
  secret = ((await created.json()) as { client_secret: string }).client_secret;
  await server.admin('POST', '/admin/clients', {
    client_id: 'spa',
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'none',
    scope: 'openid product:read',
  });
  config = await discover(server.url, 'webapp', secret);
  browser = await launchChromium();
  page = await (await browser.newContext()).newPage();
});
afterAll(async () => {
  await browser?.close();
  callback?.close();
  await server.running.stop();
  dir.remove();
});

interface Authorized {
  readonly callbackUrl: URL;
  readonly verifier: string;
  readonly state: string;
}

/** Runs the browser through authorize → (login) → consent → redirect, signing in with the keyboard only. */
async function authorize(scope: string, options: { login: boolean }): Promise<Authorized> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    state,
    prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  await page.goto(url.href);
  if (options.login) {
    await expect.poll(() => page.title()).toBe('Sign in');
    expect(await page.textContent('main')).toContain('Web App');
    // Labels name the fields, the username field has focus, Tab and Enter do the rest.
    await page.getByLabel('Username').waitFor();
    expect(await page.locator(':focus').getAttribute('id')).toBe('username');
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');
  }
  await expect.poll(() => page.title()).toBe('Authorize access');
  const listed = await page.getByRole('list', { name: 'requested permissions' }).textContent();
  for (const s of scope.split(' ').filter((s) => s !== 'openid')) expect(listed).toContain(s);
  expect(await page.locator(':focus').textContent()).toBe('Allow');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.href.startsWith(redirectUri));
  return { callbackUrl: new URL(page.url()), verifier, state };
}

describe('authorization code + PKCE through the login form', () => {
  let first: Authorized;
  let refreshToken: string;
  let grantAccessToken: string;

  it('refuses a wrong password on the form and lets the user try again', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong username or password');
    expect(await page.getByLabel('Username').inputValue()).toBe('alice');
  });

  it('signs in, consents and exchanges the code with the verifier for ID, JWT access and refresh tokens', async () => {
    first = await authorize('openid offline_access profile product:read', { login: true });
    const tokens = await client.authorizationCodeGrant(config, first.callbackUrl, {
      pkceCodeVerifier: first.verifier,
      expectedState: first.state,
    });
    seenTokens.push(tokens.access_token, tokens.refresh_token ?? '', tokens.id_token ?? '');
    expect(tokens.claims()?.sub).toBe('alice');
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`));
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, {
      issuer: server.url,
      audience: 'product-api',
    });
    expect(payload.sub).toBe('alice');
    expect(payload.client_id).toBe('webapp');
    expect(String(payload.scope).split(' ')).toContain('product:read');
    expect(tokens.refresh_token).toBeTypeOf('string');
    refreshToken = tokens.refresh_token ?? '';
  });

  it('rotates the refresh token and refuses the used one', async () => {
    const refreshed = await client.refreshTokenGrant(config, refreshToken);
    expect(refreshed.refresh_token).toBeTypeOf('string');
    expect(refreshed.refresh_token).not.toBe(refreshToken);
    expect(jose.decodeJwt(refreshed.access_token).aud).toBe('product-api');
    grantAccessToken = refreshed.access_token;
    expect((await client.tokenIntrospection(config, grantAccessToken)).active).toBe(true);
    const reused = await client.refreshTokenGrant(config, refreshToken).catch((e: unknown) => e);
    expect((reused as client.ResponseBodyError).error).toBe('invalid_grant');
    seenTokens.push(refreshed.access_token, refreshed.refresh_token ?? '');
    refreshToken = refreshed.refresh_token ?? '';
  });

  it('refuses a replayed code with invalid_grant and revokes what the code had issued', async () => {
    const err = await client
      .authorizationCodeGrant(config, first.callbackUrl, {
        pkceCodeVerifier: first.verifier,
        expectedState: first.state,
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(client.ResponseBodyError);
    expect((err as client.ResponseBodyError).error).toBe('invalid_grant');
    expect((await client.tokenIntrospection(config, refreshToken)).active).toBe(false);
    // The JWT access tokens of that grant die with it too, as opaque ones would.
    expect((await client.tokenIntrospection(config, grantAccessToken)).active).toBe(false);
  });

  it('introspects and revokes a refresh token', async () => {
    const a = await authorize('openid offline_access product:read', { login: false });
    const tokens = await client.authorizationCodeGrant(config, a.callbackUrl, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
    });
    const rt = tokens.refresh_token ?? '';
    seenTokens.push(rt, tokens.access_token);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
    const active = await client.tokenIntrospection(config, rt);
    expect(active.active).toBe(true);
    expect(active.client_id).toBe('webapp');
    expect(active.sub).toBe('alice');
    expect(active.iss).toBe(server.url);
    expect(String(active.scope).split(' ')).toContain('offline_access');
    // Opaque tokens (the provider's own introspection) follow the same rule as JWTs: another client learns nothing,
    // a designated resource server (the seeded gateway) everything.
    const notes = (server.running.notes ?? []).join('\n');
    const writer = await discover(server.url, 'writer', /client writer \/ (\S+)/.exec(notes)?.[1] ?? '');
    expect(await client.tokenIntrospection(writer, rt)).toEqual({ active: false });
    const exported = server.running.exports ?? {};
    const gateway = await discover(
      server.url,
      exported.GATEWAY_INTROSPECTION_CLIENT_ID ?? '',
      exported.GATEWAY_INTROSPECTION_CLIENT_SECRET ?? '',
    );
    expect(await client.tokenIntrospection(gateway, rt)).toMatchObject({ active: true, client_id: 'webapp' });
    // Another client's revocation is answered as for an unknown token (RFC 7009 §2.1) and revokes nothing.
    await client.tokenRevocation(writer, rt);
    expect((await client.tokenIntrospection(config, rt)).active).toBe(true);
    await client.tokenRevocation(config, rt);
    expect((await client.tokenIntrospection(config, rt)).active).toBe(false);
    // Revoking the refresh token ends the grant, and the grant's JWT access tokens with it.
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    const err = await client.refreshTokenGrant(config, rt).catch((e: unknown) => e);
    expect((err as client.ResponseBodyError).error).toBe('invalid_grant');
  });

  it("revokes a user's JWT access token for good, while its refresh token keeps working", async () => {
    const a = await authorize('openid offline_access product:read', { login: false });
    const tokens = await client.authorizationCodeGrant(config, a.callbackUrl, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
    });
    seenTokens.push(tokens.access_token, tokens.refresh_token ?? '', tokens.id_token ?? '');
    const active = await client.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({ active: true, sub: 'alice', client_id: 'webapp', aud: 'product-api' });
    expect(String(active.scope).split(' ')).toContain('product:read');
    // An ID token is signed with the same keys but is no access token: never active at introspection.
    expect(await client.tokenIntrospection(config, tokens.id_token ?? '')).toEqual({ active: false });
    await client.tokenRevocation(config, tokens.access_token);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
    seenTokens.push(refreshed.access_token, refreshed.refresh_token ?? '');
    expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(true);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  });

  it('refuses a code exchanged with the wrong PKCE verifier', async () => {
    const a = await authorize('openid product:read', { login: false });
    const err = await client
      .authorizationCodeGrant(config, a.callbackUrl, {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: a.state,
      })
      .catch((e: unknown) => e);
    expect((err as client.ResponseBodyError).error).toBe('invalid_grant');
  });

  it('serves userinfo for an OpenID-only token', async () => {
    const a = await authorize('openid profile email', { login: false });
    const tokens = await client.authorizationCodeGrant(config, a.callbackUrl, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
    });
    const info = await client.fetchUserInfo(config, tokens.access_token, 'alice');
    expect(info).toMatchObject({
      sub: 'alice',
      name: 'Alice',
      email: 'alice@example.org',
      preferred_username: 'alice',
    });
  });
});

describe('a restart on the same data dir', () => {
  it('keeps refresh tokens, grants and the browser session', async () => {
    const a = await authorize('openid offline_access product:read', { login: false });
    const tokens = await client.authorizationCodeGrant(config, a.callbackUrl, {
      pkceCodeVerifier: a.verifier,
      expectedState: a.state,
    });
    seenTokens.push(tokens.refresh_token ?? '', tokens.access_token);
    const port = new URL(server.url).port;
    await server.running.stop();
    await settle();
    server = await startServer({ dataDir: dir.path, logger: logs.logger, argv: ['--port', port] });
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token ?? '');
    seenTokens.push(refreshed.refresh_token ?? '', refreshed.access_token);
    expect(jose.decodeJwt(refreshed.access_token).sub).toBe('alice');
    // The session cookie still names a stored session: no login form, straight to consent.
    await authorize('openid product:read', { login: false });
  });
});

describe('redirect URIs and PKCE policy', () => {
  it('never redirects to a redirect_uri that is not registered exactly', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${redirectUri}/../evil`,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('redirect_uri');
  });

  it('requires PKCE from a public client, answered at its redirect_uri with invalid_request', async () => {
    const spa = await discover(server.url, 'spa');
    const url = client.buildAuthorizationUrl(spa, { redirect_uri: redirectUri, scope: 'openid', state: 'xyz' });
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.href.startsWith(redirectUri)).toBe(true);
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('error_description')).toMatch(/PKCE/);
  });
});

describe('logs', () => {
  it('carry no password, client secret or token', () => {
    const text = logs.text();
    expect(text).toContain('sign-in refused');
    for (const secretValue of [PASSWORD, secret, ...seenTokens.filter((t) => t !== '')]) {
      expect(text).not.toContain(secretValue);
    }
  });
});

describe('forms without their CSRF token', () => {
  it('refuses a sign-in posted with a forged token, and signs no one in', async () => {
    const context = await browser.newContext();
    try {
      const other = await context.newPage();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid',
        code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      await other.goto(url.href);
      await other.getByLabel('Username').fill('alice');
      await other.getByLabel('Password').fill(PASSWORD);
      // Both forms on the page carry the token; a page from elsewhere would not know it.
      await other.evaluate(`document.querySelectorAll('input[name="csrf"]').forEach((i) => { i.value = 'forged'; })`);
      const [answer] = await Promise.all([
        other.waitForResponse((r) => r.request().method() === 'POST'),
        other.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      expect(answer.status()).toBe(403);
      expect(await other.textContent('body')).toContain('The form was not sent by this page');
      // Still at sign-in: going back to the page asks for the password again.
      await other.goBack();
      await other.reload();
      await expect.poll(() => other.title()).toBe('Sign in');
    } finally {
      await context.close();
    }
  });
});
