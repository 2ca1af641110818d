// The guard against a real issuer on a socket (discovery + JWKS) with real signed tokens. Time is faked only for
// Date (jose's exp/nbf checks and JWKS cooldown read it); sockets and timers stay real.
import { base64url } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createService, type Service } from '@trellis/kit';
import { requireAuth, requireScopes } from '../../src/security/guard.ts';
import { createTokenVerifier } from '../../src/security/verifier.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { deadPort, makeKey, startIssuer, type TestIssuer } from './helpers.ts';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const sec = Math.floor(T0 / 1000);

let issuer: TestIssuer;
let service: Service;
const logs = captureLogger('debug');
const tokensSeen: string[] = [];

beforeAll(async () => {
  issuer = await startIssuer();
  service = createService({ name: 'product', logger: logs.logger, git: false });
  // jwksUri left out: the guard reads it from the issuer's discovery document.
  const auth = requireAuth({ issuer: issuer.url, audience: 'product-api' });
  service.app.get('/product/:id', auth, requireScopes('product:read'), (c) =>
    c.json({ id: c.req.param('id'), client: c.var.auth.clientId, scopes: [...c.var.auth.scopes] }),
  );
  service.app.post('/product', auth, requireScopes('product:write'), (c) => c.json({ created: true }, 201));
});

afterAll(async () => {
  await service.stop();
  await issuer.close();
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

async function sign(...args: Parameters<TestIssuer['sign']>): Promise<string> {
  const token = await issuer.sign(...args);
  tokensSeen.push(token);
  return token;
}

async function get(authorization?: string, path = '/product/1'): Promise<Response> {
  return service.app.request(path, authorization === undefined ? {} : { headers: { authorization } });
}

function invalidToken(description: string): string {
  return `Bearer error="invalid_token", error_description="${description}"`;
}

async function expectRefusal(res: Response, status: number, challenge: string, error: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('www-authenticate')).toBe(challenge);
  const body = (await res.json()) as { error: string; error_description: string };
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
}

describe('requireAuth', () => {
  it('lets a valid RS256 token through and puts its claims on c.var.auth', async () => {
    const res = await get(`Bearer ${await sign({ client_id: 'reader', scope: 'openid product:read' })}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: '1', client: 'reader', scopes: ['openid', 'product:read'] });
    expect(issuer.hits.discovery).toBe(1);
    expect(issuer.hits.jwks).toBe(1);
  });

  it('lets a valid ES256 token through, with the scheme in any case and scopes from scp', async () => {
    const key = issuer.keys.find((k) => k.alg === 'ES256');
    const res = await get(`bearer ${await sign({ azp: 'es-client', scp: ['product:read'] }, { key })}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ client: 'es-client', scopes: ['product:read'] });
  });

  it('reads discovery and the JWKS once for many requests', async () => {
    const before = { ...issuer.hits };
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => (await get(`Bearer ${await sign({ scope: 'product:read' })}`)).status),
    );
    expect(results.every((s) => s === 200)).toBe(true);
    expect(issuer.hits.jwks - before.jwks).toBe(0);
    expect(issuer.hits.discovery - before.discovery).toBe(0);
  });

  it('refuses an expired token with 401 invalid_token', async () => {
    const token = await sign({ scope: 'product:read', iat: sec - 600, exp: sec - 31 });
    await expectRefusal(await get(`Bearer ${token}`), 401, invalidToken('the token has expired'), 'invalid_token');
  });

  it('accepts a token expired by less than the clock tolerance (30 s)', async () => {
    const token = await sign({ scope: 'product:read', iat: sec - 600, exp: sec - 20 });
    expect((await get(`Bearer ${token}`)).status).toBe(200);
  });

  it('refuses a token that is not valid yet, beyond the tolerance', async () => {
    const token = await sign({ scope: 'product:read', nbf: sec + 120 });
    await expectRefusal(await get(`Bearer ${token}`), 401, invalidToken('the token is not valid yet'), 'invalid_token');
  });

  it('refuses a token of another issuer', async () => {
    const token = await sign({ scope: 'product:read', iss: 'https://evil.example' });
    await expectRefusal(
      await get(`Bearer ${token}`),
      401,
      invalidToken('the token was issued by another issuer'),
      'invalid_token',
    );
  });

  it('refuses a token for another audience', async () => {
    const token = await sign({ scope: 'product:read', aud: 'billing-api' });
    await expectRefusal(
      await get(`Bearer ${token}`),
      401,
      invalidToken('the token is not meant for this audience'),
      'invalid_token',
    );
  });

  it('refuses a token without exp', async () => {
    const token = await sign({ scope: 'product:read', exp: undefined });
    await expectRefusal(await get(`Bearer ${token}`), 401, invalidToken('the token has no exp claim'), 'invalid_token');
  });

  it('refuses a token whose signature was tampered with', async () => {
    const token = await sign({ scope: 'product:read' });
    const [h, p, s = ''] = token.split('.');
    const i = Math.floor(s.length / 2);
    const flipped = `${s.slice(0, i)}${s[i] === 'A' ? 'B' : 'A'}${s.slice(i + 1)}`;
    await expectRefusal(
      await get(`Bearer ${h}.${p}.${flipped}`),
      401,
      invalidToken('the token signature is invalid'),
      'invalid_token',
    );
  });

  it('refuses a token whose claims were changed after signing', async () => {
    const token = await sign({ scope: 'product:read' });
    const [h, , s] = token.split('.');
    const forged = base64url.encode(
      JSON.stringify({ iss: issuer.url, aud: 'product-api', exp: sec + 60, scope: 'product:write' }),
    );
    expect((await get(`Bearer ${h}.${forged}.${s}`)).status).toBe(401);
  });

  it('refuses alg none', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(
      JSON.stringify({ iss: issuer.url, aud: 'product-api', exp: sec + 60, scope: 'product:read' }),
    );
    await expectRefusal(
      await get(`Bearer ${header}.${payload}.`),
      401,
      invalidToken("the token's signing algorithm is not accepted"),
      'invalid_token',
    );
  });

  it('refuses HS256 signed with the public key as secret (algorithm confusion)', async () => {
    const key = issuer.keys[0];
    const header = base64url.encode(JSON.stringify({ alg: 'HS256', kid: key?.kid }));
    const payload = base64url.encode(JSON.stringify({ iss: issuer.url, aud: 'product-api', exp: sec + 60 }));
    const { createHmac } = await import('node:crypto');
    const mac = createHmac('sha256', JSON.stringify(key?.publicJwk)).update(`${header}.${payload}`).digest('base64url');
    await expectRefusal(
      await get(`Bearer ${header}.${payload}.${mac}`),
      401,
      invalidToken("the token's signing algorithm is not accepted"),
      'invalid_token',
    );
  });

  it('answers a missing token with a bare challenge naming the realm, no error code', async () => {
    const res = await get();
    await expectRefusal(res, 401, 'Bearer realm="product-api"', 'missing_token');
  });

  it('treats another scheme (Basic) as no credentials', async () => {
    await expectRefusal(await get('Basic cmVhZGVyOnNlY3JldA=='), 401, 'Bearer realm="product-api"', 'missing_token');
  });

  it.each(['Bearer', 'Bearer ', 'Bearer a b', 'Bearer {"alg":"none"}'])(
    'answers 400 invalid_request to the malformed header %j',
    async (header) => {
      await expectRefusal(
        await get(header),
        400,
        'Bearer error="invalid_request", error_description="the Authorization header must be Bearer followed by one token"',
        'invalid_request',
      );
    },
  );

  it('refuses a bearer value that is not a JWT', async () => {
    await expectRefusal(await get('Bearer not-a-jwt'), 401, invalidToken('the token is malformed'), 'invalid_token');
  });

  it('answers 403 insufficient_scope naming the scope the route needs', async () => {
    const token = await sign({ scope: 'product:read' });
    const res = await service.app.request('/product', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    await expectRefusal(res, 403, 'Bearer error="insufficient_scope", scope="product:write"', 'insufficient_scope');
  });

  it('refuses a token it verified before once it expires (the verified-token cache honours exp)', async () => {
    const token = await sign({ scope: 'product:read', exp: sec + 60 });
    expect((await get(`Bearer ${token}`)).status).toBe(200);
    expect((await get(`Bearer ${token}`)).status).toBe(200);
    vi.setSystemTime(T0 + 91_000);
    await expectRefusal(await get(`Bearer ${token}`), 401, invalidToken('the token has expired'), 'invalid_token');
  });

  it('does not take a token for a remembered one whose signature it reuses (other claims, same last characters)', async () => {
    const token = await sign({ client_id: 'reader', scope: 'product:read' });
    expect((await get(`Bearer ${token}`)).status).toBe(200);
    const [h, , s] = token.split('.');
    const forged = base64url.encode(
      JSON.stringify({ iss: issuer.url, aud: 'product-api', exp: sec + 60, scope: 'product:read', client_id: 'evil' }),
    );
    await expectRefusal(
      await get(`Bearer ${h}.${forged}.${s}`),
      401,
      invalidToken('the token signature is invalid'),
      'invalid_token',
    );
    const again = await get(`Bearer ${token}`);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ client: 'reader' });
  });

  it('refetches the JWKS once for an unknown kid, then refuses; no refetch during the cooldown', async () => {
    expect((await get(`Bearer ${await sign({ scope: 'product:read' })}`)).status).toBe(200);
    vi.setSystemTime(T0 + 31_000); // past the 30 s cooldown since the last download
    const before = issuer.hits.jwks;
    const stranger = await makeKey('key-unknown');
    const token = await sign({ scope: 'product:read' }, { key: stranger });
    const challenge = invalidToken("no signing key of the issuer matches the token's key id");
    await expectRefusal(await get(`Bearer ${token}`), 401, challenge, 'invalid_token');
    expect(issuer.hits.jwks - before).toBe(1);
    await expectRefusal(await get(`Bearer ${token}`), 401, challenge, 'invalid_token');
    expect(issuer.hits.jwks - before).toBe(1);
  });

  it('accepts tokens of a rotated-in key after refetching the JWKS', async () => {
    vi.setSystemTime(T0 + 120_000);
    const rotated = await makeKey('key-2');
    issuer.keys = [rotated, ...issuer.keys];
    const before = issuer.hits.jwks;
    const res = await get(`Bearer ${await sign({ scope: 'product:read' }, { key: rotated })}`);
    expect(res.status).toBe(200);
    expect(issuer.hits.jwks - before).toBe(1);
    // Tokens of the old key still pass while it stays published.
    const old = issuer.keys.find((k) => k.kid === 'key-1');
    expect((await get(`Bearer ${await sign({ scope: 'product:read' }, { key: old })}`)).status).toBe(200);
  });

  it('answers 500 server_error, not 401, when the JWKS cannot be read', async () => {
    const port = await deadPort();
    const guarded = createService({ name: 'guarded', logger: captureLogger('silent').logger, git: false });
    guarded.app.get(
      '/x',
      requireAuth({ issuer: issuer.url, audience: 'product-api', jwksUri: `http://127.0.0.1:${port}/jwks` }),
      (c) => c.text('ok'),
    );
    const res = await guarded.app.request('/x', { headers: { authorization: `Bearer ${await sign({})}` } });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'server_error' });
  });

  it('enforces requiredScopes given to requireAuth itself', async () => {
    const strict = createService({ name: 'strict', logger: captureLogger('silent').logger, git: false });
    const jwksUri = `${issuer.url}/jwks`;
    strict.app.get(
      '/x',
      requireAuth({ issuer: issuer.url, audience: 'product-api', jwksUri, requiredScopes: ['a', 'b'] }),
      (c) => c.text('ok'),
    );
    const partial = await strict.app.request('/x', {
      headers: { authorization: `Bearer ${await sign({ scope: 'a' })}` },
    });
    await expectRefusal(partial, 403, 'Bearer error="insufficient_scope", scope="a b"', 'insufficient_scope');
    const full = await strict.app.request('/x', {
      headers: { authorization: `Bearer ${await sign({ scope: 'b a' })}` },
    });
    expect(full.status).toBe(200);
  });

  it('never writes a token to the log, while logging why tokens were refused', () => {
    const text = logs.text();
    expect(text).toContain('bearer token refused');
    expect(text).toContain('the token has expired');
    expect(tokensSeen.length).toBeGreaterThan(10);
    for (const token of tokensSeen) {
      expect(text).not.toContain(token.split('.')[2]);
      expect(text).not.toContain(token.split('.')[1]);
    }
  });
});

describe('requireAuth over a socket', () => {
  it('reads the Authorization header as node parsed it: valid, malformed and missing tokens', async () => {
    const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
    const at = (authorization?: string): Promise<Response> =>
      fetch(
        `http://127.0.0.1:${endpoint.port}/product/7`,
        authorization === undefined ? {} : { headers: { authorization } },
      );
    const token = await sign({ scope: 'product:read' });
    const ok = await at(`bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ id: '7', scopes: ['product:read'] });
    expect((await at(`Bearer ${token}`)).status).toBe(200); // the remembered token
    await expectRefusal(
      await at(`Bearer ${token}!`),
      400,
      'Bearer error="invalid_request", error_description="the Authorization header must be Bearer followed by one token"',
      'invalid_request',
    );
    await expectRefusal(await at(), 401, 'Bearer realm="product-api"', 'missing_token');
  });
});

describe('createTokenVerifier().cached', () => {
  it('knows a token only once verify accepted it, and forgets it when it expires', async () => {
    const verifier = createTokenVerifier({ issuer: issuer.url, audience: 'product-api' });
    const token = await sign({ scope: 'product:read', exp: sec + 60 });
    expect(verifier.cached(token)).toBeUndefined();
    const info = await verifier.verify(token);
    expect(verifier.cached(token)).toBe(info);
    const forged = `${token.slice(0, -4)}AAAA`;
    await expect(verifier.verify(forged)).rejects.toThrow();
    expect(verifier.cached(forged)).toBeUndefined();
    vi.setSystemTime(T0 + 91_000);
    expect(verifier.cached(token)).toBeUndefined();
  });

  it('answers a remembered token only for the whole of it, not for another ending the same', async () => {
    const verifier = createTokenVerifier({ issuer: issuer.url, audience: 'product-api' });
    const token = await sign({ scope: 'product:read' });
    const info = await verifier.verify(token);
    const [h, p = '', s] = token.split('.');
    // The same signature under changed claims, and a prefix cut off: both end exactly as the remembered token.
    const forged = `${h}.${base64url.encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(base64url.decode(p))), scope: 'admin' }))}.${s}`;
    expect(verifier.cached(forged)).toBeUndefined();
    expect(verifier.cached(token.slice(1))).toBeUndefined();
    expect(verifier.cached(`x${token}`)).toBeUndefined();
    await expect(verifier.verify(forged)).rejects.toThrow('the token signature is invalid');
    expect(verifier.cached(token)).toBe(info);
  });
});
