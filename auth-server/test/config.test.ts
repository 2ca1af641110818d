import { loadSettings, SettingsError, parseTrustedProxies } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { authServerSettings, checkConfig, loadConfig } from '../src/config.ts';
import type { IncomingMessage } from 'node:http';
import { addressKey, sourceAddress } from '../src/oidc/proxies.ts';

describe('auth server settings', () => {
  it('defaults to port 9999, RS256 and product-api', () => {
    const config = loadConfig({}, []);
    expect(config).toMatchObject({ port: 9999, signingAlg: 'RS256', resource: 'product-api', seedDevClients: true });
    expect(config.resourceScopes).toEqual(['product:read', 'product:write']);
    expect(loadConfig({ AUTH_SERVER_PORT: '9000' }).port).toBe(9000);
  });

  it('refuses development clients with NODE_ENV=production, naming the variable to set', () => {
    const settings = loadSettings(authServerSettings(), {});
    expect(() => checkConfig(settings, { NODE_ENV: 'production' })).toThrow(SettingsError);
    expect(() => checkConfig(settings, { NODE_ENV: 'production' })).toThrow(/AUTH_SEED_DEV_CLIENTS=false/);
    const off = loadSettings(authServerSettings(), { env: { AUTH_SEED_DEV_CLIENTS: 'false' } });
    expect(checkConfig(off, { NODE_ENV: 'production' }).production).toBe(true);
  });

  it('serves the API document by default, not with NODE_ENV=production unless --api-docs or SPRINGDOC_API_DOCS_ENABLED', () => {
    expect(loadConfig({}, []).apiDocs).toBe(true);
    const production = { NODE_ENV: 'production', AUTH_SEED_DEV_CLIENTS: 'false' };
    expect(loadConfig(production, []).apiDocs).toBe(false);
    expect(loadConfig(production, ['--api-docs']).apiDocs).toBe(true);
    expect(loadConfig({ ...production, SPRINGDOC_API_DOCS_ENABLED: 'true' }, []).apiDocs).toBe(true);
    expect(loadConfig({}, ['--api-docs=false']).apiDocs).toBe(false);
  });

  it('seeds the development clients into a PostgreSQL database only when asked for by name, saying so otherwise', () => {
    const url = 'postgres://trellis@127.0.0.1:5432/auth';
    const unset = loadConfig({ TRELLIS_DATABASE_URL: url });
    expect(unset.seedDevClients).toBe(false);
    expect(unset.devClientsNote).toMatch(/not seeded into the PostgreSQL database.*--seed-dev-clients/);
    expect(loadConfig({ TRELLIS_DATABASE_URL: url, AUTH_SEED_DEV_CLIENTS: 'true' })).toMatchObject({
      seedDevClients: true,
      devClientsNote: undefined,
    });
    expect(loadConfig({}, ['--database-url', url, '--seed-dev-clients']).seedDevClients).toBe(true);
    expect(loadConfig({ TRELLIS_DATABASE_URL: url }, ['--no-seed-dev-clients']).devClientsNote).toBeUndefined();
    // The data dir keeps development's default.
    expect(loadConfig({})).toMatchObject({ seedDevClients: true, devClientsNote: undefined });
  });

  it('names a bad trusted proxy entry and never echoes a secret', () => {
    expect(() => loadConfig({ AUTH_TRUSTED_PROXIES: '10.0.0.0/8,gateway' })).toThrow(/"gateway"/);
    expect(() => loadConfig({ AUTH_ADMIN_TOKEN: 'short-secret' })).toThrow(/at least 16/);
    expect(() => loadConfig({ AUTH_ADMIN_TOKEN: 'short-secret' })).not.toThrow(/short-secret/);
    expect(() => loadConfig({ AUTH_REGISTRATION_TOKEN: 'short-token' })).toThrow(/AUTH_REGISTRATION_TOKEN.*16/);
    expect(() => loadConfig({ AUTH_REGISTRATION_TOKEN: 'short-token' })).not.toThrow(/short-token/);
    expect(loadConfig({}).registrationToken).toBeUndefined();
  });
});

describe('issuer', () => {
  it('takes an origin, with or without a trailing slash', () => {
    expect(loadConfig({ AUTH_ISSUER: 'https://auth.example.org' }).issuer).toBe('https://auth.example.org');
    expect(loadConfig({ AUTH_ISSUER: 'https://auth.example.org:8443/' }).issuer).toBe('https://auth.example.org:8443');
  });

  // Every endpoint is served at /oauth2/... of the origin: an issuer with a path would publish an `iss` and endpoint
  // URLs that disagree (RFC 8414 §3 puts discovery under the path), so such issuers are refused at start.
  it('refuses an issuer with a path, query, fragment or user info, naming the variable in one line', () => {
    for (const issuer of [
      'https://host/auth',
      'https://host/auth/',
      'https://host/?tenant=a',
      'https://host/#x',
      'https://user:pw@host',
    ]) {
      expect(() => loadConfig({ AUTH_ISSUER: issuer }), issuer).toThrow(SettingsError);
      expect(() => loadConfig({ AUTH_ISSUER: issuer }), issuer).toThrow(/^invalid --issuer \(AUTH_ISSUER\): [^\n]+$/);
    }
    expect(() => loadConfig({ AUTH_ISSUER: 'https://host/auth' })).toThrow(/path \/auth/);
    expect(() => loadConfig({ AUTH_ISSUER: 'https://user:pw@host' })).not.toThrow(/pw/);
  });
});

describe('trusted proxies', () => {
  it('matches single addresses, CIDR ranges and IPv4-mapped IPv6 peers', () => {
    const proxies = parseTrustedProxies(['127.0.0.1', '10.0.0.0/8', '::1']);
    expect(proxies.trusts('127.0.0.1')).toBe(true);
    expect(proxies.trusts('::ffff:10.1.2.3')).toBe(true);
    expect(proxies.trusts('::1')).toBe(true);
    expect(proxies.trusts('192.168.0.1')).toBe(false);
    expect(proxies.trusts(undefined)).toBe(false);
  });
});

describe('sourceAddress and addressKey', () => {
  const req = (peer: string, forwardedFor?: string): IncomingMessage =>
    ({
      socket: { remoteAddress: peer },
      headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
    }) as unknown as IncomingMessage;
  const proxies = parseTrustedProxies(['10.0.0.0/8']);

  it('believes X-Forwarded-For only from a trusted proxy, and only its nearest untrusted hop', () => {
    expect(sourceAddress(req('192.0.2.1', '198.51.100.7'), proxies)).toBe('192.0.2.1');
    expect(sourceAddress(req('192.0.2.1', '198.51.100.7'), undefined)).toBe('192.0.2.1');
    expect(sourceAddress(req('10.0.0.5', '198.51.100.7'), proxies)).toBe('198.51.100.7');
    expect(sourceAddress(req('10.0.0.5', '1.1.1.1, 203.0.113.9, 10.0.0.4'), proxies)).toBe('203.0.113.9');
    expect(sourceAddress(req('::ffff:10.0.0.5', 'garbage, 203.0.113.9'), proxies)).toBe('203.0.113.9');
    expect(sourceAddress(req('10.0.0.5', '203.0.113.9, garbage'), proxies)).toBe('10.0.0.5');
    expect(sourceAddress(req('10.0.0.5'), proxies)).toBe('10.0.0.5');
  });

  it('keys IPv6 by its /64, IPv4 by the address, and all of loopback as one', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('203.0.113.9')).toBe('203.0.113.9');
    // A local process can send from any of 127.0.0.0/8: rotating through them gives no fresh keys.
    expect(addressKey('127.0.1.1')).toBe(addressKey('127.0.0.1'));
    expect(addressKey('127.255.0.9')).toBe('127.0.0.0/8');
  });
});

describe('registration policy settings', () => {
  it('defaults to the OpenID scopes and the read-only API scopes, loopback redirect hosts, no device flow', () => {
    const { registrationPolicy: policy } = loadConfig({ AUTH_RESOURCE_SCOPES: 'orders:read,orders:write' });
    expect(policy.scopes).toEqual(['openid', 'profile', 'email', 'offline_access', 'orders:read']);
    expect(policy.redirectHosts).toEqual(['localhost', '127.0.0.1', '[::1]']);
    expect(policy.grantTypes).toEqual(['authorization_code', 'refresh_token', 'client_credentials']);
    expect(policy.authMethods).toEqual(['client_secret_basic', 'client_secret_post', 'none']);
  });

  it('takes the operator’s lists, and names a bad entry with its variable', () => {
    const config = loadConfig({
      AUTH_REGISTRATION_SCOPES: 'openid,product:write',
      AUTH_REGISTRATION_REDIRECT_HOSTS: 'App.Example.org,*.example.net',
    });
    expect(config.registrationPolicy.scopes).toEqual(['openid', 'product:write']);
    expect(config.registrationPolicy.redirectHosts).toEqual(['app.example.org', '*.example.net']);
    expect(() => loadConfig({ AUTH_REGISTRATION_GRANT_TYPES: 'password' })).toThrow(
      /AUTH_REGISTRATION_GRANT_TYPES.*password/,
    );
    expect(() => loadConfig({ AUTH_REGISTRATION_AUTH_METHODS: 'private_key_jwt' })).toThrow(
      /AUTH_REGISTRATION_AUTH_METHODS/,
    );
    expect(() => loadConfig({ AUTH_REGISTRATION_REDIRECT_HOSTS: 'https://app.example.org/' })).toThrow(
      /AUTH_REGISTRATION_REDIRECT_HOSTS/,
    );
  });
});
