// An authorization server behind HTTPS with a private CA (Trellis's dev CA): both sides reach it only with `ca`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createService } from '@trellis/kit';
import { SecurityError } from '../../src/security/errors.ts';
import { requireAuth } from '../../src/security/guard.ts';
import { createTokenClient } from '../../src/security/token-client.ts';
import { ensureDevCertificates, type DevTlsMaterial } from '@trellis/kit/tls';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { startIssuer, type TestIssuer } from './helpers.ts';

let dir: string;
let tls: DevTlsMaterial;
let issuer: TestIssuer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-security-'));
  tls = await ensureDevCertificates({ dir: join(dir, 'tls') });
  issuer = await startIssuer({ tls });
  issuer.clients.set('reader', { secret: 'reader-secret', scopes: ['product:read'] });
});
afterAll(async () => {
  await issuer.close();
  await rm(dir, { recursive: true, force: true });
});

describe('an HTTPS authorization server with a private CA', () => {
  it('gives a token to a client that trusts the CA, and the guard (trusting it too) accepts it', async () => {
    const logger = captureLogger('silent').logger;
    const tokens = createTokenClient({
      issuer: issuer.url,
      clientId: 'reader',
      clientSecret: 'reader-secret',
      ca: tls.ca,
      logger,
    });
    try {
      const token = await tokens.getToken();
      const service = createService({ name: 'product', logger, git: false });
      service.app.get('/x', requireAuth({ issuer: issuer.url, audience: 'product-api', ca: tls.ca }), (c) =>
        c.json({ client: c.var.auth.clientId }),
      );
      const res = await service.app.request('/x', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ client: 'reader' });
    } finally {
      await tokens.close();
    }
  });

  it('refuses to talk to it without the CA', async () => {
    const tokens = createTokenClient({
      issuer: issuer.url,
      clientId: 'reader',
      clientSecret: 'reader-secret',
      logger: captureLogger('silent').logger,
    });
    try {
      const err = await tokens.getToken().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SecurityError);
      expect((err as SecurityError).code).toBe('authorization_server_unavailable');
    } finally {
      await tokens.close();
    }
  });
});
