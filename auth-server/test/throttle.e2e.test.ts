// Failure throttling as an attacker meets it: keyed by client AND source address, so failing on purpose slows down
// only the one failing, never the legitimate client; guesses spread over usernames or user codes meet a limit per
// source; the source comes from X-Forwarded-For only through a trusted proxy. The admin token and registration's
// initial access token are limited per source the same way.
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../src/manage.ts';
import {
  ADMIN_TOKEN,
  addWebClient,
  discover,
  openLoginForm,
  startServer,
  tempDir,
  type TestServer,
} from './helpers.ts';

const PASSWORD = 'correct horse battery staple';

const dir = tempDir();
let server: TestServer;
let writerSecret: string;

beforeAll(async () => {
  // Loopback is the trusted proxy (the gateway, in a landscape): X-Forwarded-For names the caller.
  server = await startServer({ dataDir: dir.path, argv: ['--trusted-proxies', '127.0.0.1,::1'] });
  writerSecret = /development client writer \/ (\S+)/.exec((server.running.notes ?? []).join('\n'))?.[1] ?? '';
  await addUser({ dataDir: dir.path }, { username: 'alice', password: PASSWORD });
  await addWebClient(server);
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: string;
}

async function attempt(secret: string, forwardedFor: string, clientId = 'writer'): Promise<Answer> {
  const res = await fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

/** How many answers had each status. */
function tally(answers: readonly Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

/** 200 guesses at once, as the penetration test sent them: at most 10 of them may be checked. */
const PARALLEL = 200;
const ALLOWED = 10;

describe('client secret throttling behind a trusted proxy', () => {
  it('checks at most the allowed guesses of a parallel burst, then refuses even the right secret from there', async () => {
    const burst = await Promise.all(Array.from({ length: PARALLEL }, (_, i) => attempt(`wrong-${i}`, '203.0.113.9')));
    expect(tally(burst)).toEqual({ 401: ALLOWED, 429: PARALLEL - ALLOWED });
    const refused = burst.find((a) => a.status === 429);
    expect(Number(refused?.retryAfter)).toBeGreaterThanOrEqual(1);
    // RFC 6749 §5.2 form, saying to wait, never that the secret was wrong (that would make a client drop it).
    const body = JSON.parse(refused?.body ?? '{}') as Record<string, unknown>;
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toMatch(/too many failed attempts.*try again in \d+ s/);

    const right = await attempt(writerSecret, '203.0.113.9');
    expect(right.status).toBe(429);
    expect(Number(right.retryAfter)).toBeGreaterThanOrEqual(20);
    expect(right.body).not.toContain('access_token');
    // The legitimate client elsewhere is never affected.
    expect((await attempt(writerSecret, '198.51.100.7')).status).toBe(200);
  });

  it('refuses the locked-out source even when it claims to be another one', async () => {
    // The proxy appends the address it saw: the hop left of it is the attacker's own claim and counts for nothing.
    const spoofed = await attempt(writerSecret, '198.51.100.7, 203.0.113.9');
    expect(spoofed.status).toBe(429);
  });

  it('counts an IPv6 /64 as one source, so rotating addresses inside it gives no fresh start', async () => {
    for (let i = 1; i <= ALLOWED; i++) expect((await attempt(`wrong-${i}`, `2001:db8:1:2::${i}`)).status).toBe(401);
    expect((await attempt(writerSecret, '2001:db8:1:2:ffff::99')).status).toBe(429);
    // Another /64 is another source.
    expect((await attempt(writerSecret, '2001:db8:1:3::1')).status).toBe(200);
  });
});

describe('client secret throttling without a trusted proxy', () => {
  it('ignores X-Forwarded-For from the peer: a new claimed address each time is still the same source', async () => {
    const direct = tempDir();
    const plain = await startServer({ dataDir: direct.path });
    const secret = /development client writer \/ (\S+)/.exec((plain.running.notes ?? []).join('\n'))?.[1] ?? '';
    try {
      const hit = async (value: string, i: number): Promise<number> => {
        const res = await fetch(`${plain.url}/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': `192.0.2.${i}` },
          body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'writer', client_secret: value }),
        });
        await res.body?.cancel();
        return res.status;
      };
      for (let i = 0; i < ALLOWED; i++) expect(await hit('wrong', i)).toBe(401);
      expect(await hit(secret, 99)).toBe(429);
    } finally {
      await plain.running.stop();
      direct.remove();
    }
  });
});

describe('admin and registration token guessing', () => {
  const INITIAL_TOKEN = 'initial-access-token-0123456789';
  const own = tempDir();
  let tokens: TestServer;
  beforeAll(async () => {
    tokens = await startServer({
      dataDir: own.path,
      argv: ['--trusted-proxies', '127.0.0.1,::1', '--registration-token', INITIAL_TOKEN],
      env: { AUTH_SEED_DEV_CLIENTS: 'false' },
    });
  });
  afterAll(async () => {
    await tokens.running.stop();
    own.remove();
  });

  const admin = async (token: string, forwardedFor: string): Promise<Answer> => {
    const res = await fetch(`${tokens.url}/admin/clients`, {
      headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': forwardedFor },
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
  const register = async (token: string, forwardedFor: string): Promise<Answer> => {
    const res = await fetch(`${tokens.url}/oauth2/register`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'x-forwarded-for': forwardedFor,
      },
      body: JSON.stringify({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' }),
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };

  it('answers the admin token at most the allowed wrong guesses of a burst, then 429 for the right one too; other sources are served', async () => {
    // 30 wrong then the right one, as the penetration test sent them (all 30 were answered 401 and the right one 200).
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => admin(`wrong-admin-${i}`, '203.0.113.20')));
    expect(tally(burst)).toEqual({ 401: ALLOWED, 429: 30 - ALLOWED });
    const right = await admin(ADMIN_TOKEN, '203.0.113.20');
    expect(right.status).toBe(429);
    expect(Number(right.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(right.body)).toMatchObject({
      error: 'too_many_attempts',
      message: expect.stringMatching(/too many failed attempts.*try again in \d+ s/) as unknown,
    });
    expect((await admin(ADMIN_TOKEN, '203.0.113.21')).status).toBe(200);
    // Without a trusted proxy's word the peer is the source: loopback here, untouched by the lockout above.
    const direct = await fetch(`${tokens.url}/admin/clients`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(direct.status).toBe(200);
  });

  it('locks out a source after wrong initial access tokens, in RFC 7591 form, the right one too; other sources register', async () => {
    for (let i = 0; i < ALLOWED; i++) {
      const wrong = await register(`wrong-initial-${i}`, '203.0.113.30');
      expect(wrong.status, `guess ${i + 1}`).toBe(401);
      expect(JSON.parse(wrong.body)).toMatchObject({ error: 'invalid_token' });
    }
    const right = await register(INITIAL_TOKEN, '203.0.113.30');
    expect(right.status).toBe(429);
    expect(Number(right.retryAfter)).toBeGreaterThanOrEqual(1);
    const body = JSON.parse(right.body) as Record<string, unknown>;
    expect(body.error).toBe('too_many_attempts');
    expect(body.error_description).toMatch(/too many failed attempts.*try again in \d+ s/);
    expect(body).not.toHaveProperty('client_id');
    expect((await register(INITIAL_TOKEN, '203.0.113.31')).status).toBe(201);
    // The admin token's count is its own: this source never guessed it.
    expect((await admin(ADMIN_TOKEN, '203.0.113.30')).status).toBe(200);
  });
});

/** A browser's sign-in page, reached by fetch with a cookie jar: where to post, its CSRF token and its cookies. */
const loginForm = (): Promise<{ action: string; csrf: string; cookies: string }> => openLoginForm(server.url);

async function signIn(
  form: { action: string; csrf: string; cookies: string },
  password: string,
  forwardedFor: string,
  username = 'alice',
): Promise<Answer> {
  const res = await fetch(form.action, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      cookie: form.cookies,
      'content-type': 'application/x-www-form-urlencoded',
      'x-forwarded-for': forwardedFor,
    },
    body: new URLSearchParams({ username, password, csrf: form.csrf }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

describe('password throttling on the login page', () => {
  it('checks at most the allowed guesses of a parallel burst, and never stops the user signing in elsewhere', async () => {
    const form = await loginForm();
    const burst = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) => signIn(form, `guess-${i}`, '203.0.113.50')),
    );
    expect(tally(burst)).toEqual({ 401: ALLOWED, 429: PARALLEL - ALLOWED });
    const right = await signIn(form, PASSWORD, '203.0.113.50');
    expect(right.status).toBe(429);
    expect(Number(right.retryAfter)).toBeGreaterThanOrEqual(20);
    expect(right.body).toMatch(/too many failed attempts from this address; try again in \d+ s/);
    expect((await signIn(await loginForm(), PASSWORD, '198.51.100.60')).status).toBe(303);
  });
});

describe('password spraying on the login page', () => {
  /** The per-source limit across usernames (SIGN_IN_FAILURES_PER_SOURCE). */
  const PER_SOURCE = 20;

  it('locks out a source after its failures across many usernames, not counting its own successes', async () => {
    const sprayer = '203.0.113.70';
    const form = await loginForm();
    const spray = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) expect((await signIn(form, 'Summer2026!', sprayer, `user${i}`)).status).toBe(401);
    };
    await spray(0, PER_SOURCE / 2);
    // The sprayer's own account signs in fine, and clears nothing.
    expect((await signIn(await loginForm(), PASSWORD, sprayer)).status).toBe(303);
    await spray(PER_SOURCE / 2, PER_SOURCE);
    const refused = await signIn(form, 'Summer2026!', sprayer, 'user-next');
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(20);
    expect(refused.body).toMatch(/too many failed attempts from this address; try again in \d+ s/);
    // Refused before any password is checked, the right one included.
    expect((await signIn(await loginForm(), PASSWORD, sprayer)).status).toBe(429);
    // No username is locked for anyone else: the victim signs in from elsewhere.
    expect((await signIn(await loginForm(), PASSWORD, '198.51.100.71')).status).toBe(303);
  });
});

/** Types a user code into a fresh device page (its own session and xsrf value), as a browser at `forwardedFor` would. */
async function enterUserCode(userCode: string, forwardedFor: string): Promise<Answer> {
  const page = await fetch(`${server.url}/oauth2/device`);
  const cookies = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const res = await fetch(`${server.url}/oauth2/device`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor },
    body: new URLSearchParams({ xsrf, user_code: userCode }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
}

describe('user code guessing on the device page', () => {
  /** The per-source limit on wrong codes (USER_CODE_FAILURES_PER_SOURCE). */
  const PER_SOURCE = 10;

  it('refuses a source after its wrong codes, the right one included, while the right code works elsewhere', async () => {
    const created = await server.admin('POST', '/admin/clients', {
      client_id: 'tv',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
      scope: 'openid',
    });
    const { client_secret } = (await created.json()) as { client_secret: string };
    const device = await client.initiateDeviceAuthorization(await discover(server.url, 'tv', client_secret), {
      scope: 'openid',
    });
    const guesser = '203.0.113.80';
    for (let i = 0; i < PER_SOURCE; i++) {
      const wrong = await enterUserCode(`ZZZZ-ZZZ${'BCDFGHJKLM'[i] ?? 'B'}`, guesser);
      expect(wrong.status).toBe(200);
      expect(wrong.body).toContain('That code is not valid');
    }
    const refused = await enterUserCode(device.user_code, guesser);
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThanOrEqual(20);
    expect(refused.body).toMatch(/too many failed attempts from this address; try again in \d+ s/);
    expect(refused.body).not.toContain('Confirm device');
    const elsewhere = await enterUserCode(device.user_code, '198.51.100.81');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body).toContain('<title>Confirm device</title>');
  });
});

describe('a lockout as announced', () => {
  // The first lockout shortened to 1 s (--credential-lockout) so the test need not wait 30; the rule is the same.
  const own = tempDir();
  let short: TestServer;
  let secret: string;
  beforeAll(async () => {
    short = await startServer({
      dataDir: own.path,
      argv: ['--trusted-proxies', '127.0.0.1,::1', '--credential-lockout', '1'],
      env: { AUTH_SEED_DEV_CLIENTS: 'false' },
    });
    const created = await short.admin('POST', '/admin/clients', { client_id: 'lockt', scope: 'product:read' });
    secret = ((await created.json()) as { client_secret: string }).client_secret;
  });
  afterAll(async () => {
    await short.running.stop();
    own.remove();
  });

  const token = async (presented: string, forwardedFor: string): Promise<Answer> => {
    const res = await fetch(`${short.url}/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`lockt:${presented}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'x-forwarded-for': forwardedFor,
      },
      body: 'grant_type=client_credentials',
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
  const admin = async (presented: string, forwardedFor: string): Promise<Answer> => {
    const res = await fetch(`${short.url}/admin/clients`, {
      headers: { authorization: `Bearer ${presented}`, 'x-forwarded-for': forwardedFor },
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  };
  const waitFor = (answer: Answer) => new Promise((resolve) => setTimeout(resolve, Number(answer.retryAfter) * 1000));

  // Found by an outside attacker: the lockout announced 30 s, and the right secret sent 32 s later met 429 with
  // retry-after 868 (the shared count refused until 15 minutes after the first failure).
  it('admits the right client secret once Retry-After has passed, the wait announced being the lockout', async () => {
    for (let i = 0; i < ALLOWED; i++) expect((await token(`bad${i}`, '203.0.113.30')).status).toBe(401);
    const locked = await token(secret, '203.0.113.30');
    expect(locked.status).toBe(429);
    expect(locked.retryAfter).toBe('1');
    expect(locked.body).toContain('try again in 1 s');
    // Asking again while locked out neither lengthens the lockout nor is checked.
    expect((await token('bad-while-locked', '203.0.113.30')).retryAfter).toBe('1');
    await waitFor(locked);
    const right = await token(secret, '203.0.113.30');
    expect(right.status).toBe(200);
    expect(JSON.parse(right.body)).toHaveProperty('access_token');
  });

  it('admits the right admin token once Retry-After has passed', async () => {
    for (let i = 0; i < ALLOWED; i++) expect((await admin(`bad${i}`, '203.0.113.31')).status).toBe(401);
    const locked = await admin(ADMIN_TOKEN, '203.0.113.31');
    expect(locked.status).toBe(429);
    expect(locked.retryAfter).toBe('1');
    await waitFor(locked);
    expect((await admin(ADMIN_TOKEN, '203.0.113.31')).status).toBe(200);
  });
});
