// Failure throttling as an attacker meets it: keyed by client AND source address, so failing on purpose slows down
// only the one failing, never the legitimate client; the source comes from X-Forwarded-For only through a trusted
// proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../src/manage.ts';
import { startServer, tempDir, type TestServer } from './helpers.ts';

const PASSWORD = 'correct horse battery staple';

const dir = tempDir();
let server: TestServer;
let writerSecret: string;

beforeAll(async () => {
  // Loopback is the trusted proxy (the gateway, in a landscape): X-Forwarded-For names the caller.
  server = await startServer({ dataDir: dir.path, argv: ['--trusted-proxies', '127.0.0.1,::1'] });
  writerSecret = /development client writer \/ (\S+)/.exec((server.running.notes ?? []).join('\n'))?.[1] ?? '';
  await addUser({ dataDir: dir.path }, { username: 'alice', password: PASSWORD });
  const created = await server.admin('POST', '/admin/clients', {
    client_id: 'web',
    redirect_uris: ['http://127.0.0.1:1/cb'],
    scope: 'openid',
  });
  expect(created.status).toBe(201);
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

async function attempt(secret: string, forwardedFor: string): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'writer', client_secret: secret }),
  });
  await res.body?.cancel();
  return { status: res.status, ms: performance.now() - started };
}

describe('client secret throttling behind a trusted proxy', () => {
  it("never makes the real client wait for another source's failures", async () => {
    // 100 + 200 + 400 ms of waiting for the attacker: the fifth attempt from there would wait 800 ms.
    for (let i = 0; i < 4; i++) expect((await attempt(`wrong-${i}`, '203.0.113.9')).status).toBe(401);
    const legitimate = await attempt(writerSecret, '198.51.100.7');
    expect(legitimate.status).toBe(200);
    expect(legitimate.ms).toBeLessThan(300);
  });

  it('still slows the failing source, even when it claims to be another one', async () => {
    // The proxy appends the address it saw: the hop left of it is the attacker's own claim and counts for nothing.
    const spoofed = await attempt('wrong-again', '198.51.100.7, 203.0.113.9');
    expect(spoofed.status).toBe(401);
    expect(spoofed.ms).toBeGreaterThanOrEqual(790);
  });

  it('counts an IPv6 /64 as one source, so rotating addresses inside it gives no fresh start', async () => {
    for (let i = 1; i <= 3; i++) await attempt(`wrong-${i}`, `2001:db8:1:2::${i}`);
    const rotated = await attempt('wrong', '2001:db8:1:2:ffff::99');
    expect(rotated.ms).toBeGreaterThanOrEqual(390);
    // Another /64 is another source.
    const other = await attempt(writerSecret, '2001:db8:1:3::1');
    expect(other.status).toBe(200);
    expect(other.ms).toBeLessThan(300);
  });
});

describe('client secret throttling without a trusted proxy', () => {
  it('ignores X-Forwarded-For from the peer: a new claimed address each time is still the same source', async () => {
    const direct = tempDir();
    const plain = await startServer({ dataDir: direct.path });
    const secret = /development client writer \/ (\S+)/.exec((plain.running.notes ?? []).join('\n'))?.[1] ?? '';
    try {
      const hit = async (value: string, i: number) => {
        const started = performance.now();
        const res = await fetch(`${plain.url}/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `192.0.2.${i}` },
          body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'writer', client_secret: value }),
        });
        await res.body?.cancel();
        return { status: res.status, ms: performance.now() - started };
      };
      for (let i = 0; i < 3; i++) await hit('wrong', i);
      const next = await hit(secret, 99);
      expect(next.status).toBe(200);
      expect(next.ms).toBeGreaterThanOrEqual(390);
    } finally {
      await plain.running.stop();
      direct.remove();
    }
  });
});

/** A browser's sign-in page, reached by fetch with a cookie jar: where to post, its CSRF token and its cookies. */
async function loginForm(): Promise<{ action: string; csrf: string; cookies: string }> {
  const query = new URLSearchParams({
    client_id: 'web',
    response_type: 'code',
    scope: 'openid',
    redirect_uri: 'http://127.0.0.1:1/cb',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
  const start = await fetch(`${server.url}/oauth2/authorize?${query.toString()}`, { redirect: 'manual' });
  const cookies = start.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const page = await fetch(start.headers.get('location') ?? '', { headers: { cookie: cookies } });
  const html = await page.text();
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  expect(action).toMatch(/\/login$/);
  return { action: new URL(action, server.url).href, csrf, cookies };
}

async function signIn(password: string, forwardedFor: string): Promise<{ status: number; ms: number }> {
  const form = await loginForm();
  const started = performance.now();
  const res = await fetch(form.action, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: form.cookies,
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': forwardedFor,
    },
    body: new URLSearchParams({ username: 'alice', password, csrf: form.csrf }),
  });
  await res.body?.cancel();
  return { status: res.status, ms: performance.now() - started };
}

describe('password throttling on the login page', () => {
  it("slows the guesser's source, never the user signing in from elsewhere", async () => {
    for (let i = 0; i < 4; i++) expect((await signIn(`guess-${i}`, '203.0.113.50')).status).toBe(401);
    const guesser = await signIn('guess-again', '203.0.113.50');
    expect(guesser.status).toBe(401);
    expect(guesser.ms).toBeGreaterThanOrEqual(790);
    const user = await signIn(PASSWORD, '198.51.100.60');
    expect(user.status).toBe(303);
    expect(user.ms).toBeLessThan(600);
  });
});
