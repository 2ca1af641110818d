// TokenCheck with `introspect: true` against the real Trellis auth server: a route that must see a revocation at once
// asks the issuer's introspection endpoint (RFC 7662) about every token, while other routes keep the offline check.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Running } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authServerComponent } from '../../auth-server/src/index.ts';
import { clientCredentialsToken, revokeAccessToken } from '../../kit/test/support/oauth.ts';
import { gatewayConfig, gatewaySettings } from '../src/config.ts';
import { call, echo, silent, startTestGateway, startUpstream, type TestGateway, type Upstream } from './helpers.ts';

let dir: string;
let auth: Running;
let issuer: string;
let readerSecret: string;
let writerSecret: string;
let upstream: Upstream;
let gateway: TestGateway;

const secretOf = (name: string): string =>
  new RegExp(`development client ${name} / (\\S+)`).exec((auth.notes ?? []).join('\n'))?.[1] ?? '';

const token = (clientId: string, secret: string, scope: string): Promise<string> =>
  clientCredentialsToken({ issuer, clientId, secret }, scope);
const revoke = (clientId: string, secret: string, access: string): Promise<void> =>
  revokeAccessToken({ issuer, clientId, secret }, access);

/** The introspection credential the auth server component hands to the gateway (as `trellis up` passes it on). */
function introspectionArgv(): string[] {
  const exported = auth.exports ?? {};
  const id = exported.GATEWAY_INTROSPECTION_CLIENT_ID;
  const secret = exported.GATEWAY_INTROSPECTION_CLIENT_SECRET;
  if (id === undefined || secret === undefined) throw new Error('the auth server exported no introspection client');
  return ['--introspection-client-id', id, '--introspection-client-secret', secret];
}

const ROUTES = `
spring.cloud.gateway.routes:
- id: write
  uri: UPSTREAM
  predicates: [Path=/write/**]
  filters:
  - name: TokenCheck
    args: {scopes: product:write, introspect: true}
- id: read
  uri: UPSTREAM
  predicates: [Path=/read/**]
  filters: [TokenCheck=product:read]
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gateway-introspection-'));
  const settings = loadSettings(authServerComponent.settings, {
    argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
    env: {},
  });
  auth = await authServerComponent.start(settings, { logger: silent, env: {} });
  issuer = /issuer (\S+),/.exec((auth.notes ?? []).join('\n'))?.[1] ?? '';
  readerSecret = secretOf('reader');
  writerSecret = secretOf('writer');
  upstream = await startUpstream(echo);
  gateway = await startTestGateway(ROUTES.replaceAll('UPSTREAM', upstream.url), {
    argv: [
      '--issuer',
      issuer,
      '--audience',
      'product-api',
      // The seeded `gateway` client, the one resource server the auth server answers about every client's tokens.
      ...introspectionArgv(),
    ],
  });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.close();
  await auth?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('TokenCheck introspect: true', () => {
  it('lets an active token through, then answers 401 invalid_token on the next request after its revocation', async () => {
    const access = await token('writer', writerSecret, 'product:write');
    const headers = { authorization: `Bearer ${access}` };
    expect((await call(`${gateway.url}/write/1`, { method: 'POST', headers })).status).toBe(200);
    await revoke('writer', writerSecret, access);
    const refused = await call(`${gateway.url}/write/1`, { method: 'POST', headers });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token"/);
    expect(refused.headers['www-authenticate']).toMatch(/not active/);
  });

  it('checks the scope too: an active token without product:write gets 403', async () => {
    const access = await token('reader', readerSecret, 'product:read');
    const res = await call(`${gateway.url}/write/1`, { headers: { authorization: `Bearer ${access}` } });
    expect(res.status).toBe(403);
  });

  it('never asks the issuer about a forged token: the offline check refuses it first', async () => {
    const access = await token('writer', writerSecret, 'product:write');
    const [header, payload] = access.split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const res = await call(`${gateway.url}/write/1`, { headers: { authorization: `Bearer ${forged}` } });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/signature/);
  });

  it('leaves routes without it on the offline check (a revoked token still passes there until it expires)', async () => {
    const access = await token('reader', readerSecret, 'product:read');
    await revoke('reader', readerSecret, access);
    const res = await call(`${gateway.url}/read/1`, { headers: { authorization: `Bearer ${access}` } });
    expect(res.status).toBe(200);
  });
});

describe('the shipped routes (config-repo/gateway.yml)', () => {
  let shipped: TestGateway;

  beforeAll(async () => {
    // As shipped, with the composite's lb:// pointed at the echo upstream (no registry here).
    const file = await readFile(new URL('../../config-repo/gateway.yml', import.meta.url), 'utf8');
    shipped = await startTestGateway(file.replaceAll('lb://product-composite', upstream.url), {
      argv: ['--issuer', issuer, '--audience', 'product-api', ...introspectionArgv()],
      env: { AUTH_SERVER_URL: issuer, REGISTRY_URL: upstream.url, CONFIG_SERVER_URL: upstream.url },
    });
  });
  afterAll(async () => {
    await shipped?.stop();
  });

  it('refuses a revoked writer token on POST, PUT and DELETE /product-composite at once', async () => {
    const access = await token('writer', writerSecret, 'product:read product:write');
    const headers = { authorization: `Bearer ${access}`, 'content-type': 'application/json' };
    const post = await call(`${shipped.url}/product-composite`, { method: 'POST', headers, body: '{}' });
    expect(post.status).toBe(200);
    await revoke('writer', writerSecret, access);
    for (const method of ['POST', 'PUT', 'DELETE'] as const) {
      const res = await call(`${shipped.url}/product-composite/1`, { method, headers, body: '{}' });
      expect(res.status, method).toBe(401);
      expect(res.headers['www-authenticate'], method).toMatch(/error="invalid_token"/);
    }
    // Reads stay on the offline check: short-lived tokens bound how long a revoked one still reads.
    expect((await call(`${shipped.url}/product-composite/1`, { headers })).status).toBe(200);
  });

  it('refuses a revoked writer token on reads that carry the fault parameters (delay, faultPercent), which change the service for everyone', async () => {
    const access = await token('writer', writerSecret, 'product:read product:write');
    const headers = { authorization: `Bearer ${access}` };
    expect((await call(`${shipped.url}/product-composite/1?faultPercent=100`, { headers })).status).toBe(200);
    await revoke('writer', writerSecret, access);
    for (const query of ['faultPercent=100', 'delay=3', 'x=1&delay', 'fault%50ercent=100']) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await call(`${shipped.url}/product-composite/1?${query}`, { method, headers });
        expect(res.status, `${method} ?${query}`).toBe(401);
      }
    }
    // A plain read stays on the offline check.
    expect((await call(`${shipped.url}/product-composite/1`, { headers })).status).toBe(200);
  });
});

describe('introspection settings', () => {
  const config = (argv: string[]) =>
    gatewayConfig(loadSettings(gatewaySettings(), { argv: ['--data-dir', dir, ...argv], env: {} }));

  it('needs both halves of the credential and an issuer, naming the variables, never the secret', () => {
    expect(() =>
      config(['--issuer', 'http://localhost:9999', '--audience', 'a', '--introspection-client-id', 'g']),
    ).toThrow(/GATEWAY_INTROSPECTION_CLIENT_SECRET/);
    expect(() => config(['--introspection-client-id', 'g', '--introspection-client-secret', 'hush-hush'])).toThrow(
      /needs --issuer/,
    );
    expect(() => config(['--introspection-client-id', 'g', '--introspection-client-secret', 'hush-hush'])).not.toThrow(
      /hush-hush/,
    );
  });

  it('refuses a route asking for introspection when no introspection client is configured', async () => {
    await expect(
      startTestGateway(ROUTES.replaceAll('UPSTREAM', upstream.url), {
        argv: ['--issuer', issuer, '--audience', 'product-api'],
      }),
    ).rejects.toThrow(
      /route write: TokenCheck introspect needs an introspection client \(set GATEWAY_INTROSPECTION_CLIENT_ID and GATEWAY_INTROSPECTION_CLIENT_SECRET/,
    );
  });
});
