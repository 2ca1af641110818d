// The token client against a client_credentials token endpoint written in the test (helpers.ts) on a real socket.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLoadBalancedHttp } from '../../src/discovery/http.ts';
import { createService, type Service } from '@trellis/kit';
import { SecurityError } from '../../src/security/errors.ts';
import { requireAuth, requireScopes } from '../../src/security/guard.ts';
import {
  createTokenClient,
  withAccessToken,
  type TokenClient,
  type TokenClientOptions,
} from '../../src/security/token-client.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { deadPort, startIssuer, type TestIssuer } from './helpers.ts';

// A secret with characters that basic auth must form-encode (RFC 6749 §2.3.1).
const SECRET = 'r3ader: s3cret+/%';
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

let issuer: TestIssuer;
const logs = captureLogger('debug');
const clients: TokenClient[] = [];
const issuedTokens: string[] = [];

beforeAll(async () => {
  issuer = await startIssuer();
  issuer.clients.set('reader', { secret: SECRET, scopes: ['product:read'] });
  issuer.clients.set('writer', { secret: 'writer-secret', scopes: ['product:read', 'product:write'] });
});
afterAll(async () => {
  await issuer.close();
});
beforeEach(() => {
  issuer.hits.token = 0;
  issuer.hits.discovery = 0;
  issuer.tokenRequests.length = 0;
  issuer.expiresIn = 300;
  issuer.tokenDelayMs = 0;
  issuer.tokenOutage = undefined;
});
afterEach(async () => {
  vi.useRealTimers();
  for (const c of clients.splice(0)) await c.close();
});

function client(overrides: Partial<TokenClientOptions> = {}): TokenClient {
  const c = createTokenClient({
    tokenUrl: `${issuer.url}/token`,
    clientId: 'reader',
    clientSecret: SECRET,
    scope: 'product:read',
    logger: logs.logger,
    ...overrides,
  } as TokenClientOptions);
  clients.push(c);
  return c;
}

async function token(c: TokenClient): Promise<string> {
  const t = await c.getToken();
  issuedTokens.push(t);
  return t;
}

async function rejection(p: Promise<unknown>): Promise<SecurityError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SecurityError);
  return err as SecurityError;
}

describe('createTokenClient', () => {
  it('authenticates with client_secret_basic, form-encoding the credentials, and sends scope and resource', async () => {
    const t = await token(client({ resource: 'product-api' }));
    expect(t.split('.')).toHaveLength(3);
    const seen = issuer.tokenRequests[0];
    expect(seen?.authorization).toMatch(/^Basic /);
    expect(seen?.form.get('grant_type')).toBe('client_credentials');
    expect(seen?.form.get('scope')).toBe('product:read');
    expect(seen?.form.get('resource')).toBe('product-api');
    expect(seen?.form.has('client_secret')).toBe(false);
  });

  it('authenticates with client_secret_post in the body, without an Authorization header', async () => {
    await token(client({ auth: 'client_secret_post' }));
    const seen = issuer.tokenRequests[0];
    expect(seen?.authorization).toBeUndefined();
    expect(seen?.form.get('client_id')).toBe('reader');
    expect(seen?.form.get('client_secret')).toBe(SECRET);
  });

  it('finds the token endpoint through the issuer discovery document, once', async () => {
    const c = client({ tokenUrl: undefined, issuer: issuer.url });
    await token(c);
    c.invalidate();
    await token(c);
    expect(issuer.hits.discovery).toBe(1);
    expect(issuer.hits.token).toBe(2);
  });

  it('caches the token until shortly before it expires', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const c = client();
    const first = await token(c);
    vi.setSystemTime(T0 + 269_000); // 300 s lifetime, refreshed 30 s before expiry
    expect(await token(c)).toBe(first);
    expect(issuer.hits.token).toBe(1);
  });

  it('refreshes in the background before expiry, handing out the current token meanwhile', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const c = client();
    const first = await token(c);
    vi.setSystemTime(T0 + 271_000);
    issuer.tokenDelayMs = 30;
    expect(await token(c)).toBe(first); // still valid for 29 s: no caller waits
    expect(await token(c)).toBe(first);
    await vi.waitFor(() => expect(issuer.hits.token).toBe(2), { timeout: 2000, interval: 5 });
    await vi.waitFor(async () => expect(await c.getToken()).not.toBe(first), { timeout: 2000, interval: 5 });
    expect(issuer.hits.token).toBe(2);
  });

  it('uses 10 % of a short lifetime as the margin', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    issuer.expiresIn = 60;
    const c = client();
    const first = await token(c);
    vi.setSystemTime(T0 + 53_000);
    expect(await token(c)).toBe(first);
    expect(issuer.hits.token).toBe(1);
    vi.setSystemTime(T0 + 55_000);
    await token(c);
    await vi.waitFor(() => expect(issuer.hits.token).toBe(2), { timeout: 2000, interval: 5 });
  });

  it('waits for a new token once the cached one has expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(T0);
    const c = client();
    const first = await token(c);
    vi.setSystemTime(T0 + 301_000);
    expect(await token(c)).not.toBe(first);
    expect(issuer.hits.token).toBe(2);
  });

  it('sends one token request for 100 concurrent callers', async () => {
    issuer.tokenDelayMs = 50;
    const c = client();
    const tokens = await Promise.all(Array.from({ length: 100 }, () => token(c)));
    expect(new Set(tokens).size).toBe(1);
    expect(issuer.hits.token).toBe(1);
  });

  it('surfaces an RFC 6749 invalid_client as a typed error without the secret', async () => {
    const err = await rejection(client({ clientSecret: 'wrong-secret-value' }).getToken());
    expect(err.code).toBe('token_rejected');
    expect(err.oauthError).toBe('invalid_client');
    expect(err.message).toContain('client authentication failed');
    expect(err.message).not.toContain('wrong-secret-value');
    expect(err.status).toBe(502);
  });

  it('surfaces invalid_scope and does not cache the failure', async () => {
    const c = client({ scope: ['product:read', 'product:write'] });
    const err = await rejection(c.getToken());
    expect(err.oauthError).toBe('invalid_scope');
    await rejection(c.getToken());
    expect(issuer.hits.token).toBe(2);
  });

  it('shares one failure among concurrent callers', async () => {
    issuer.tokenDelayMs = 30;
    const c = client({ clientSecret: 'nope' });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => c.getToken()));
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(issuer.hits.token).toBe(1);
  });

  it('reports a 5xx token endpoint as authorization_server_unavailable', async () => {
    issuer.tokenOutage = 503;
    const err = await rejection(client().getToken());
    expect(err.code).toBe('authorization_server_unavailable');
  });

  it('reports an unreachable token endpoint as authorization_server_unavailable', async () => {
    const err = await rejection(client({ tokenUrl: `http://127.0.0.1:${await deadPort()}/token` }).getToken());
    expect(err.code).toBe('authorization_server_unavailable');
    expect(err.message).toContain('ECONNREFUSED');
  });

  it('refuses to start without a secret', () => {
    expect(() => client({ clientSecret: '' })).toThrow(SecurityError);
  });

  it('never writes a token or the client secret to the log', () => {
    const text = logs.text();
    expect(text).toContain('access token obtained');
    expect(text).toContain('invalid_client');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('wrong-secret-value');
    expect(issuedTokens.length).toBeGreaterThan(5);
    for (const t of issuedTokens) expect(text).not.toContain(t.split('.')[2]);
  });
});

describe('withAccessToken', () => {
  let service: Service;
  let url: string;
  beforeAll(async () => {
    service = createService({ name: 'product', logger: captureLogger('silent').logger, git: false });
    const auth = requireAuth({ issuer: issuer.url, audience: 'product-api' });
    service.app.get('/product/:id', auth, requireScopes('product:read'), (c) =>
      c.json({ id: c.req.param('id'), client: c.var.auth.clientId }),
    );
    url = (await service.listen({ port: 0, host: '127.0.0.1' })).url;
  });
  afterAll(async () => {
    await service.stop();
  });

  it('calls a guarded service over a socket with a token from the token endpoint', async () => {
    const http = withAccessToken(
      createLoadBalancedHttp({ discovery: { getInstances: () => [] }, logger: captureLogger('silent').logger }),
      client(),
    );
    try {
      const res = await http.request(`${url}/product/7`);
      expect(res.status).toBe(200);
      expect(await res.body.json()).toEqual({ id: '7', client: 'reader' });
    } finally {
      await http.close();
    }
  });

  it('gets a new token and retries once when the resource server answers 401 invalid_token', async () => {
    // A stand-in resource server refuses the first token, as one does once a token was revoked or its key withdrawn.
    const c = client();
    const stale = await c.getToken();
    const seen: string[] = [];
    const fake = {
      request(_u: string | URL, init: { headers?: Readonly<Record<string, string | readonly string[]>> } = {}) {
        const authorization = String(init.headers?.authorization);
        seen.push(authorization);
        const ok = authorization !== `Bearer ${stale}`;
        return Promise.resolve({
          status: ok ? 200 : 401,
          headers: ok ? {} : { 'www-authenticate': 'Bearer error="invalid_token"' },
          body: { dump: async () => {} },
        });
      },
      close: async () => {},
    } as unknown as Parameters<typeof withAccessToken>[0];
    const res = await withAccessToken(fake, c).request('http://product/product/1');
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(`Bearer ${stale}`);
    expect(seen[1]).not.toBe(`Bearer ${stale}`);
  });
});
