import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';

describe('loadConfig', () => {
  it('turns settings into what the registry’s parts take', () => {
    const config = loadConfig({
      argv: ['--data-dir', '/var/lib/trellis', '--self-preservation', 'off', '--renewal-threshold-percent', '70'],
      env: { REGISTRY_RESTORE_GRACE_SECS: '20', REGISTRY_WRITE_AUTH: 'basic:eureka:pw' },
    });
    expect(config).toEqual({
      port: 8761,
      host: undefined,
      databaseFile: '/var/lib/trellis/registry.db',
      evictionIntervalMs: 5000,
      selfPreservation: { enabled: false, minInstances: 7, renewalPercent: 0.7 },
      restoreGraceMs: 20_000,
      writeAuth: { scheme: 'basic', user: 'eureka', password: 'pw' },
      readAuth: undefined,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('names the flag of an invalid value', () => {
    expect(() => loadConfig({ argv: ['--self-preservation', 'maybe'] })).toThrow(
      'invalid --self-preservation: "maybe" is not one of on, off',
    );
    expect(() => loadConfig({ env: { REGISTRY_EVICTION_INTERVAL_MS: '10' } })).toThrow(
      /^invalid REGISTRY_EVICTION_INTERVAL_MS: "10" is not a whole number from 100/,
    );
  });
});
