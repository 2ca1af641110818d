import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, tempDir, type TestServer } from './helpers.ts';

const dir = tempDir();
let server: TestServer;
const REDIRECT = 'http://127.0.0.1:1/cb';

beforeAll(async () => {
  server = await startServer({ dataDir: dir.path, env: { AUTH_SEED_DEV_CLIENTS: 'false' } });
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'web',
    grant_types: ['authorization_code'],
    redirect_uris: [REDIRECT],
    post_logout_redirect_uris: [`${REDIRECT}/bye`],
    scope: 'openid',
  });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

const authorize = (params: Record<string, string>): string =>
  `/oauth2/authorize?${new URLSearchParams({ response_type: 'code', scope: 'openid', ...params }).toString()}`;

/** What a browser asks for: HTML first, redirects not followed (a redirect's own body is an answer too). */
function browse(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    redirect: 'manual',
    ...init,
    headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', ...init.headers },
  });
}

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

/** Every HTML answer: never cached, never framed, no referrer, no sniffing, nothing loaded or run from anywhere. */
function expectPageHeaders(res: Response, what: string): void {
  expect(res.headers.get('content-type'), what).toMatch(/^text\/html/);
  expect(res.headers.get('cache-control'), what).toBe('no-store');
  expect(res.headers.get('x-frame-options'), what).toBe('DENY');
  expect(res.headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(res.headers.get('referrer-policy'), what).toBe('no-referrer');
  const csp = res.headers.get('content-security-policy') ?? '';
  expect(csp, what).toMatch(/(^|;)\s*default-src 'none'\s*(;|$)/);
  expect(csp, what).toMatch(/(^|;)\s*frame-ancestors 'none'\s*(;|$)/);
}

describe('security headers of every HTML answer', () => {
  it('the error pages of the authorization endpoint (unknown client, unregistered redirect_uri, no client_id)', async () => {
    const cases: Record<string, string> = {
      'unknown client_id': authorize({ client_id: 'nobody', redirect_uri: REDIRECT }),
      'unregistered redirect_uri': authorize({ client_id: 'web', redirect_uri: 'https://evil.example/cb' }),
      'no client_id': '/oauth2/authorize',
      'unknown client at resume': '/oauth2/authorize/not-an-interaction',
    };
    for (const [what, path] of Object.entries(cases)) {
      const res = await browse(path);
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expectPageHeaders(res, what);
      const body = await res.text();
      expect(body, what).toContain('Sign-in failed');
    }
  });

  it('the redirect to the login page, the login page, and a bad or foreign interaction uid', async () => {
    const start = await browse(authorize({ client_id: 'web', redirect_uri: REDIRECT, state: 'abc123' }));
    expect(start.status).toBe(303);
    expectPageHeaders(start, 'redirect to the interaction');
    const location = start.headers.get('location') ?? '';
    const cookie = start.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const uid = new URL(location).pathname;
    expectPageHeaders(await browse(uid, { headers: { cookie } }), 'login page');
    expectPageHeaders(await browse(uid), 'the interaction without its cookie');
    expectPageHeaders(await browse('/oauth2/interaction/no-such-uid'), 'bad interaction uid');
    expectPageHeaders(await browse('/oauth2/interaction/no-such-uid/login', form({ csrf: 'x' })), 'bad uid, post');
    expectPageHeaders(await browse(`${uid}/login`, { ...form({ csrf: 'forged' }), headers: { cookie } }), 'bad csrf');
    // A form that cannot be parsed is refused like a forged one: a page, never a 500.
    for (const type of ['multipart/form-data; boundary=zz', 'multipart/form-data']) {
      const malformed = await browse(`${uid}/login`, {
        method: 'POST',
        headers: { cookie, 'content-type': type },
        body: '--zz\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{{{',
      });
      expect(malformed.status, type).toBe(400);
      expectPageHeaders(malformed, `malformed ${type}`);
    }
  });

  it('the device flow pages: the code form, a refused code, a bad resume', async () => {
    const page = await browse('/oauth2/device');
    expect(page.status).toBe(200);
    expectPageHeaders(page, 'user code page');
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
    expectPageHeaders(
      await browse('/oauth2/device', { ...form({ xsrf, user_code: 'BCDF-GHJK' }), headers: { cookie } }),
      'unknown user code',
    );
    // Without its session (no cookie, or a forged xsrf field) the form starts over: never a 500.
    const noSession = await browse('/oauth2/device', form({ xsrf: 'forged', user_code: 'BCDF-GHJK' }));
    expect(noSession.status).toBe(303);
    expect(noSession.headers.get('location')).toBe(`${server.url}/oauth2/device`);
    expectPageHeaders(noSession, 'no session');
    expectPageHeaders(await browse('/oauth2/device?user_code=BCDF-GHJK'), 'user code in the query');
    const resume = await browse('/oauth2/device/not-a-uid');
    expect(resume.status).toBeLessThan(500);
    expectPageHeaders(resume, 'bad device resume');
  });

  it('the logout pages: the question, a refused confirmation, the signed-out page, a bad post_logout_redirect_uri', async () => {
    expectPageHeaders(await browse('/oauth2/logout'), 'logout question');
    expectPageHeaders(await browse('/oauth2/logout/confirm', form({ xsrf: 'forged' })), 'forged logout');
    expectPageHeaders(await browse('/oauth2/logout/success'), 'signed out');
    expectPageHeaders(
      await browse(
        `/oauth2/logout?client_id=web&post_logout_redirect_uri=${encodeURIComponent('https://evil.example/')}`,
      ),
      'unregistered post_logout_redirect_uri',
    );
  });

  // response_mode=form_post answers with a page whose one inline script posts the response to the client: the CSP
  // allows exactly that script by its hash, and still nothing else.
  it('a form_post response, whose auto-submit script alone may run', async () => {
    const res = await browse(
      authorize({ client_id: 'web', redirect_uri: REDIRECT, response_mode: 'form_post', prompt: 'none', state: 's' }),
    );
    expectPageHeaders(res, 'form_post');
    const body = await res.text();
    expect(body).toContain('login_required');
    const scripts = [...body.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1] ?? '');
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256')
      .update(scripts[0] ?? '')
      .digest('base64');
    const scriptSrc = /(?:^|;)\s*script-src ([^;]*)/.exec(res.headers.get('content-security-policy') ?? '')?.[1];
    expect(scriptSrc?.trim()).toBe(`'sha256-${hash}'`);
  });

  it('leaves JSON answers to their own caching rules (discovery stays cacheable)', async () => {
    const res = await browse('/.well-known/openid-configuration');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).not.toBe('no-store');
  });
});
