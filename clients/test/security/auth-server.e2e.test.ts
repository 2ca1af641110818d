// End to end with the real Trellis auth server (oidc-provider): a client-credentials token from it passes the guard,
// with the issuer's discovery document and JWKS as the only link between the two.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authServerComponent } from '../../../auth-server/src/index.ts';
import { type Running, createService, loadSettings } from '@trellis/kit';
import { SecurityError } from '../../src/security/errors.ts';
import { requireAuth, requireScopes } from '../../src/security/guard.ts';
import { createTokenIntrospector } from '../../src/security/introspection.ts';
import { createTokenClient } from '../../src/security/token-client.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';

let dir: string;
let running: Running;
let issuer: string;
let readerSecret: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-auth-e2e-'));
  const env = {};
  const settings = loadSettings(authServerComponent.settings, {
    argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
    env,
  });
  running = await authServerComponent.start(settings, { logger: captureLogger('silent').logger, env });
  const port = running.endpoints[0]?.port;
  issuer = `http://localhost:${port}`;
  const note = running.notes?.find((n) => n.includes('development client reader /'));
  readerSecret = /reader \/ (\S+)/.exec(note ?? '')?.[1] ?? '';
  expect(readerSecret).not.toBe('');
});

afterAll(async () => {
  await running.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('with the Trellis auth server', () => {
  it('gets a client-credentials JWT that the guard accepts, scopes and client id included', async () => {
    const logs = captureLogger('debug');
    const tokens = createTokenClient({
      issuer,
      clientId: 'reader',
      clientSecret: readerSecret,
      scope: 'product:read',
      logger: logs.logger,
    });
    const service = createService({ name: 'product', logger: logs.logger, git: false });
    const auth = requireAuth({ issuer, audience: 'product-api' });
    service.app.get('/product/:id', auth, requireScopes('product:read'), (c) =>
      c.json({ client: c.var.auth.clientId, scopes: [...c.var.auth.scopes] }),
    );
    service.app.post('/product', auth, requireScopes('product:write'), (c) => c.json({}, 201));
    try {
      const token = await tokens.getToken();
      const headers = { authorization: `Bearer ${token}` };
      const res = await service.app.request('/product/1', { headers });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { client: string; scopes: string[] };
      expect(body.client).toBe('reader');
      expect(body.scopes).toContain('product:read');
      const write = await service.app.request('/product', { method: 'POST', headers });
      expect(write.status).toBe(403);
      expect(write.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="product:write"');
      expect(logs.text()).not.toContain(token.split('.')[2]);
      expect(logs.text()).not.toContain(readerSecret);
    } finally {
      await tokens.close();
    }
  });

  it('surfaces its RFC 6749 invalid_client for a wrong secret', async () => {
    const tokens = createTokenClient({
      issuer,
      clientId: 'reader',
      clientSecret: 'not-the-secret',
      logger: captureLogger('silent').logger,
    });
    try {
      const err = await tokens.getToken().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecurityError);
      expect((err as SecurityError).oauthError).toBe('invalid_client');
    } finally {
      await tokens.close();
    }
  });

  it('introspects a token as active through discovery, then invalid_token once it is revoked', async () => {
    const tokens = createTokenClient({
      issuer,
      clientId: 'reader',
      clientSecret: readerSecret,
      scope: 'product:read',
      logger: captureLogger('silent').logger,
    });
    const introspector = createTokenIntrospector({
      issuer,
      clientId: 'reader',
      clientSecret: readerSecret,
      audience: 'product-api',
    });
    const elsewhere = createTokenIntrospector({
      issuer,
      clientId: 'reader',
      clientSecret: readerSecret,
      audience: 'x',
    });
    const wrong = createTokenIntrospector({ issuer, clientId: 'reader', clientSecret: 'not-the-secret' });
    try {
      const token = await tokens.getToken();
      const auth = await introspector.introspect(token);
      expect(auth.clientId).toBe('reader');
      expect([...auth.scopes]).toEqual(['product:read']);
      const other = await elsewhere.introspect(token).catch((e: unknown) => e);
      expect((other as SecurityError).code).toBe('invalid_token');
      const refused = await wrong.introspect(token).catch((e: unknown) => e);
      expect((refused as SecurityError).code).toBe('token_rejected');
      expect((refused as SecurityError).oauthError).toBe('invalid_client');
      const revoked = await fetch(`${issuer}/oauth2/revoke`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`reader:${readerSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }),
      });
      expect(revoked.status).toBe(200);
      const err = await introspector.introspect(token).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecurityError);
      expect((err as SecurityError).code).toBe('invalid_token');
      expect((err as SecurityError).message).not.toContain(token);
    } finally {
      await tokens.close();
      await introspector.close();
      await elsewhere.close();
      await wrong.close();
    }
  });
});
