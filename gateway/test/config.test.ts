import { SettingsError } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_ROUTES, loadConfig } from '../src/config.ts';

const load = (argv: string[]) => loadConfig({ argv, env: {} });

describe('gateway settings', () => {
  it('refuses a --registry-url that is not a URL without echoing it (it may carry a password)', () => {
    expect(() => load(['--registry-url', 'http://eureka:pa55word@[::1'])).toThrow(SettingsError);
    try {
      load(['--registry-url', 'http://localhost:8761/eureka/, http://eureka:pa55word@[::1']);
    } catch (err) {
      expect((err as Error).message).toMatch(/--registry-url.*entry 2 is not a URL/);
      expect((err as Error).message).not.toContain('pa55word');
    }
  });

  it('reads --admin-auth as basic:/bearer: and refuses a malformed one without echoing it', () => {
    expect(load(['--admin-auth', 'basic:ops:se:cret']).adminAuth).toEqual({
      scheme: 'basic',
      user: 'ops',
      password: 'se:cret',
    });
    expect(load([]).adminAuth).toBeUndefined();
    expect(() => load(['--admin-auth', 'ops:hunter2'])).toThrow(/--admin-auth/);
    try {
      load(['--admin-auth', 'ops:hunter2']);
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('refuses an --admin-auth secret under 16 characters with NODE_ENV=production, naming the setting, not the secret', () => {
    const production = (argv: string[]) => loadConfig({ argv, env: { NODE_ENV: 'production' } });
    for (const [raw, part] of [
      ['bearer:x', 'token'],
      ['basic:a:b', 'password'],
      ['basic:an-operator-name:short', 'password'],
    ] as const) {
      expect(() => production(['--admin-auth', raw]), raw).toThrow(SettingsError);
      try {
        production(['--admin-auth', raw]);
      } catch (err) {
        expect((err as Error).message).toMatch(new RegExp(`--admin-auth.*NODE_ENV=production.*${part}.*16 characters`));
        expect((err as Error).message).not.toContain(raw.slice(raw.lastIndexOf(':') + 1));
      }
    }
    expect(() => loadConfig({ env: { NODE_ENV: 'production', GATEWAY_ADMIN_AUTH: 'bearer:x' } })).toThrow(
      /GATEWAY_ADMIN_AUTH/,
    );
    expect(production(['--admin-auth', 'bearer:0123456789abcdef']).adminAuth).toEqual({
      scheme: 'bearer',
      token: '0123456789abcdef',
    });
    expect(production(['--admin-auth', 'basic:a:0123456789abcdef']).adminAuth).toMatchObject({ user: 'a' });
    // Unset stays allowed: the API is simply off. Development takes any length (its credential is made per run).
    expect(production([]).adminAuth).toBeUndefined();
    expect(load(['--admin-auth', 'bearer:x']).adminAuth).toEqual({ scheme: 'bearer', token: 'x' });
  });

  it('caps routes at 1,000 unless --max-routes says otherwise', () => {
    expect(load([]).maxRoutes).toBe(DEFAULT_MAX_ROUTES);
    expect(DEFAULT_MAX_ROUTES).toBe(1000);
    expect(load(['--max-routes', '10']).maxRoutes).toBe(10);
    expect(() => load(['--max-routes', '0'])).toThrow(/--max-routes/);
  });

  it('bounds client connections by default (headers 20 s, idle 5 s, 20,000 per listener) and takes other limits', () => {
    expect(load([]).connections).toEqual({ headersTimeoutMs: 20_000, idleTimeoutMs: 5000, max: 20_000 });
    expect(
      loadConfig({
        argv: ['--headers-timeout-ms', '4000', '--idle-timeout-ms', '60000'],
        env: { GATEWAY_MAX_CONNECTIONS: '500' },
      }).connections,
    ).toEqual({ headersTimeoutMs: 4000, idleTimeoutMs: 60_000, max: 500 });
    // node refuses a headers timeout above its request timeout (300 s); 0 would turn the check off.
    expect(() => load(['--headers-timeout-ms', '300001'])).toThrow(/--headers-timeout-ms/);
    expect(() => load(['--max-connections', '0'])).toThrow(/--max-connections/);
  });

  it('serves the API document unless NODE_ENV=production, where --api-docs turns it on', () => {
    expect(load([]).apiDocs).toBe(true);
    expect(loadConfig({ argv: [], env: { NODE_ENV: 'production' } }).apiDocs).toBe(false);
    expect(loadConfig({ argv: ['--api-docs'], env: { NODE_ENV: 'production' } }).apiDocs).toBe(true);
    expect(loadConfig({ argv: [], env: { SPRINGDOC_API_DOCS_ENABLED: 'false' } }).apiDocs).toBe(false);
  });
});
