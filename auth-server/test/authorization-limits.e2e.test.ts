// Anonymous authorization requests each store an Interaction row for its lifetime: they are capped in size, and in
// number per source address, before the provider stores anything.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqlite } from '@trellis/kit';
import { addWebClient, startServer, tempDir, WEB_REDIRECT, type TestServer } from './helpers.ts';

const CAP = 50;

const dir = tempDir();
let server: TestServer;

beforeAll(async () => {
  // Loopback is the trusted proxy and no proxy secret is set: X-Forwarded-For plays the callers' addresses.
  server = await startServer({ dataDir: dir.path, argv: ['--trusted-proxies', '127.0.0.1,::1'] });
  await addWebClient(server);
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

function interactions(): number {
  const db = openSqlite(join(dir.path, 'auth.db'), { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM oidc_models WHERE model = 'Interaction'").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function query(extra: Record<string, string> = {}): string {
  return new URLSearchParams({
    client_id: 'web',
    response_type: 'code',
    redirect_uri: WEB_REDIRECT,
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...extra,
  }).toString();
}

interface Answer {
  readonly status: number;
  readonly location: string | null;
  readonly retryAfter: string | null;
  readonly body: string;
}

async function authorize(
  from: string,
  extra: Record<string, string> = {},
  path = '/oauth2/authorize',
): Promise<Answer> {
  const res = await fetch(`${server.url}${path}?${query(extra)}`, {
    redirect: 'manual',
    headers: { 'x-forwarded-for': from },
  });
  return {
    status: res.status,
    location: res.headers.get('location'),
    retryAfter: res.headers.get('retry-after'),
    body: await res.text(),
  };
}

describe('authorization request size', () => {
  it('refuses an oversized state, nonce or request with the reason, storing nothing', async () => {
    const before = interactions();
    const big = 'x'.repeat(3000);
    for (const [extra, reason] of [
      [{ state: big }, /state is over 2048 characters/],
      [{ nonce: big }, /nonce is over 2048 characters/],
      [{ state: 'a'.repeat(12_000) }, /over 8192 bytes/],
      [{ padding: 'p'.repeat(9000) }, /over 8192 bytes/],
    ] as const) {
      const answer = await authorize('192.0.2.1', extra);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatch(reason);
    }
    // Pushed authorization requests (RFC 9126) take the same parameters, in a form body.
    const post = await fetch(`${server.url}/oauth2/par`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: query({ state: big }),
    });
    expect(post.status).toBe(400);
    expect(await post.text()).toMatch(/state is over 2048 characters/);
    expect(interactions()).toBe(before);
  });

  it('still takes an ordinary request', async () => {
    const answer = await authorize('192.0.2.2', { state: 's'.repeat(512), nonce: 'n'.repeat(512) });
    expect(answer.status).toBe(303);
    expect(answer.location).toContain('/oauth2/interaction/');
    // A form body read for the size check still reaches the provider.
    const pushed = await fetch(`${server.url}/oauth2/par`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: query({ state: 'pushed' }),
    });
    expect(pushed.status).toBe(201);
    expect(((await pushed.json()) as { request_uri?: string }).request_uri).toMatch(/^urn:/);
  });
});

describe('interactions per source', () => {
  it('lets one source start at most its share, even in a parallel burst, and leaves other sources alone', async () => {
    const before = interactions();
    const burst = await Promise.all(Array.from({ length: CAP + 30 }, () => authorize('203.0.113.50')));
    const started = burst.filter((a) => a.status === 303);
    const refused = burst.filter((a) => a.status === 429);
    expect(started).toHaveLength(CAP);
    expect(refused).toHaveLength(30);
    expect(Number(refused[0]?.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused[0]?.body).toMatch(/Too many sign-ins.*Try again in \d+ seconds/s);
    expect(interactions()).toBe(before + CAP);
    // A path variant the provider may also route is no way around it.
    for (const path of ['/oauth2/authorize/', '/oauth2/Authorize', '/OAUTH2/AUTHORIZE//']) {
      expect((await authorize('203.0.113.50', {}, path)).status).toBe(429);
    }
    expect(interactions()).toBe(before + CAP);
    // Another address is another source.
    expect((await authorize('198.51.100.60')).status).toBe(303);
  });

  it('counts only requests that started an interaction (a refused request takes no slot)', async () => {
    for (let i = 0; i < CAP + 5; i++) {
      const answer = await authorize('203.0.113.70', { client_id: 'no-such-client' });
      expect(answer.status).toBe(400);
    }
    expect((await authorize('203.0.113.70')).status).toBe(303);
  });
});
