// TokenCheck with `introspect: true` against the real Trellis auth server: a route that must see a revocation at once
// asks the issuer's introspection endpoint (RFC 7662) about every token, while other routes keep the offline check.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, type Running } from '@trellis/clients';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authServerComponent } from '../../auth-server/src/index.ts';
import { clientCredentialsToken, revokeAccessToken } from '../../clients/test/support/oauth.ts';
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
      // Any confidential client may introspect; a landscape would register one for the gateway.
      '--introspection-client-id',
      'reader',
      '--introspection-client-secret',
      readerSecret,
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
    ).rejects.toThrow(/introspect needs an introspection client/);
  });
});
