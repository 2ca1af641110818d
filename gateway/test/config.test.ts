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

  it('caps routes at 1,000 unless --max-routes says otherwise', () => {
    expect(load([]).maxRoutes).toBe(DEFAULT_MAX_ROUTES);
    expect(DEFAULT_MAX_ROUTES).toBe(1000);
    expect(load(['--max-routes', '10']).maxRoutes).toBe(10);
    expect(() => load(['--max-routes', '0'])).toThrow(/--max-routes/);
  });
});
