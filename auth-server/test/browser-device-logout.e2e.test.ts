import type { Server } from 'node:http';
import * as jose from 'jose';
import * as client from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../../kit/test/support/chromium.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../src/manage.ts';
import { capturingLogger, discover, startCallbackApp, startServer, tempDir, type TestServer } from './helpers.ts';

const PASSWORD = 'correct horse battery staple';
const dir = tempDir();
const logs = capturingLogger();
let server: TestServer;
let callback: Server;
let redirectUri: string;
let browser: Browser;
/** Requests the pages tried to send anywhere but the loopback servers of this test (blocked). */
const outside: string[] = [];

/** Runs `use` on a page of a fresh browser context (no cookies), closed afterwards whatever happens. */
async function inFreshContext(use: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext();
  try {
    await context.route('**/*', async (route) => {
      const { hostname } = new URL(route.request().url());
      if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
      outside.push(route.request().url());
      return route.abort();
    });
    await use(await context.newPage());
  } finally {
    await context.close();
  }
}

async function signIn(page: Page): Promise<void> {
  await expect.poll(() => page.title()).toBe('Sign in');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

beforeAll(async () => {
  server = await startServer({ dataDir: dir.path, logger: logs.logger });
  ({ server: callback, redirectUri } = await startCallbackApp());
  await addUser({ dataDir: dir.path }, { username: 'alice', password: PASSWORD });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  callback?.close();
  await server.running.stop();
  dir.remove();
});

describe('device authorization (RFC 8628) in the browser', () => {
  let config: client.Configuration;

  beforeAll(async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'tv',
      client_name: 'Living Room TV',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      scope: 'openid product:read',
    });
    expect(created.status).toBe(201);
    const { client_secret } = (await created.json()) as { client_secret: string };
    config = await discover(server.url, 'tv', client_secret);
  });

  it('takes the user code, signs in, asks for consent, and the device poll gets its tokens', async () => {
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid product:read' });
    await inFreshContext(async (page) => {
      await page.goto(device.verification_uri);
      // The code field is labelled and focused: the user types the code shown on the device and presses Enter.
      const code = page.getByLabel('Code');
      await code.waitFor();
      expect(await page.locator(':focus').getAttribute('name')).toBe('user_code');
      await page.keyboard.type(device.user_code);
      await page.keyboard.press('Enter');
      // The confirmation shows the code and the device's name, so the user can check they match.
      await expect.poll(() => page.title()).toBe('Confirm device');
      const main = await page.textContent('main');
      expect(main).toContain(device.user_code);
      expect(main).toContain('Living Room TV');
      await page.getByRole('button', { name: 'Continue' }).click();
      await signIn(page);
      await expect.poll(() => page.title()).toBe('Authorize access');
      expect(await page.getByRole('list', { name: 'requested permissions' }).textContent()).toContain('product:read');
      await page.getByRole('button', { name: 'Allow' }).click();
      await expect.poll(() => page.title()).toBe('Device signed in');
      expect(await page.textContent('main')).toContain('Living Room TV');
    });
    // Our server names no polling interval, so the client would first wait RFC 8628's default 5 s; the user has
    // approved already, so a device that polls sooner gets the same tokens.
    const tokens = await client.pollDeviceAuthorizationGrant(config, { ...device, interval: 0.1 });
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/oauth2/jwks`));
    const { payload } = await jose.jwtVerify(tokens.access_token, jwks, {
      issuer: server.url,
      audience: 'product-api',
    });
    expect(payload).toMatchObject({ sub: 'alice', client_id: 'tv', scope: 'product:read' });
    expect(tokens.claims()?.sub).toBe('alice');
  }, 40_000);

  it('says so when the code is wrong, and lets the user try again', async () => {
    const device = await client.initiateDeviceAuthorization(config, { scope: 'openid product:read' });
    await inFreshContext(async (page) => {
      await page.goto(device.verification_uri);
      await page.getByLabel('Code').fill('BCDF-GHJK');
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
      expect(await page.title()).toBe('Connect a device');
      // The right code still works afterwards.
      await page.getByLabel('Code').fill(device.user_code);
      await page.getByRole('button', { name: 'Continue' }).click();
      await expect.poll(() => page.title()).toBe('Confirm device');
    });
    // Nothing was approved: the device is still pending.
    const res = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: device.device_code,
        client_id: 'tv',
      }),
    });
    expect([400, 401]).toContain(res.status);
    expect(((await res.json()) as { error: string }).error).not.toBe('access_denied');
  });
});

describe('logout (RP-initiated, end_session)', () => {
  let config: client.Configuration;

  beforeAll(async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'portal',
      client_name: 'Portal',
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [`${redirectUri}/signed-out`],
      scope: 'openid product:read',
    });
    expect(created.status).toBe(201);
    const { client_secret } = (await created.json()) as { client_secret: string };
    config = await discover(server.url, 'portal', client_secret);
  });

  async function authorize(page: Page, login: boolean): Promise<client.TokenEndpointResponse> {
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid product:read',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    await page.goto(url.href);
    if (login) await signIn(page);
    await expect.poll(() => page.title()).toBe('Authorize access');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((u) => u.href.startsWith(redirectUri));
    return client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: verifier });
  }

  it('signs out after confirmation, and the next authorization asks for the password again', async () => {
    await inFreshContext(async (page) => {
      const tokens = await authorize(page, true);
      // Signed in: a second authorization goes straight to consent.
      await authorize(page, false);
      const logout = client.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token ?? '',
        post_logout_redirect_uri: `${redirectUri}/signed-out`,
      });
      await page.goto(logout.href);
      await expect.poll(() => page.title()).toBe('Sign out');
      expect(await page.locator(':focus').textContent()).toBe('Sign out');
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL((u) => u.href.startsWith(`${redirectUri}/signed-out`));
      await authorize(page, true);
    });
  });

  it('stays signed in when the user declines', async () => {
    await inFreshContext(async (page) => {
      await authorize(page, true);
      await page.goto(`${server.url}/oauth2/logout`);
      await expect.poll(() => page.title()).toBe('Sign out');
      await page.getByRole('button', { name: 'Stay signed in' }).click();
      await expect.poll(() => page.title()).toBe('Still signed in');
      await authorize(page, false);
    });
  });

  it('signs out a browser with no session too: the provider auto-submits that logout, under the page CSP', async () => {
    await inFreshContext(async (page) => {
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.goto(`${server.url}/oauth2/logout`);
      await expect.poll(() => page.title()).toBe('Signed out');
      expect(violations).toEqual([]);
    });
  });

  it('shows its own page after a logout without a redirect', async () => {
    await inFreshContext(async (page) => {
      await authorize(page, true);
      await page.goto(`${server.url}/oauth2/logout`);
      await page.getByRole('button', { name: 'Sign out' }).click();
      await expect.poll(() => page.title()).toBe('Signed out');
      await authorize(page, true);
    });
  });
});

describe('response_mode=form_post in the browser', () => {
  // The page's one inline script posts the response to the client; the CSP of every page allows exactly that
  // script by its hash (page-headers.ts), so the browser must still run it, and nothing else.
  it('posts the response to the client under the page CSP', async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'formpost',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      scope: 'openid',
    });
    expect(created.status).toBe(201);
    await inFreshContext(async (page) => {
      const violations: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      const posted = page.waitForRequest((r) => r.url() === redirectUri && r.method() === 'POST');
      const query = new URLSearchParams({
        client_id: 'formpost',
        redirect_uri: redirectUri,
        response_type: 'code',
        response_mode: 'form_post',
        scope: 'openid',
        prompt: 'none',
        state: 'st4te',
      });
      await page.goto(`${server.url}/oauth2/authorize?${query.toString()}`);
      const request = await posted;
      expect(new URLSearchParams(request.postData() ?? '').get('error')).toBe('login_required');
      expect(new URLSearchParams(request.postData() ?? '').get('state')).toBe('st4te');
      await expect.poll(() => page.textContent('body')).toBe('back at the app');
      expect(violations).toEqual([]);
    });
  });
});

describe('the device and logout pages', () => {
  it('load nothing from outside (no web fonts, no scripts)', () => {
    expect(outside).toEqual([]);
  });

  it('keep passwords and secrets out of the logs', () => {
    expect(logs.text()).not.toContain(PASSWORD);
  });
});
