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
      allowedHosts: undefined,
      healthShowDetails: 'never',
      observability: {
        metrics: true,
        prometheusAccess: 'internal',
        tracing: {
          exporter: 'none',
          otlpEndpoint: 'http://localhost:4318/v1/traces',
          propagation: 'w3c',
          samplingProbability: 0.1,
          zipkinEndpoint: 'http://localhost:9411/api/v2/spans',
        },
      },
      databaseFile: '/var/lib/trellis/registry.db',
      evictionIntervalMs: 5000,
      selfPreservation: { enabled: false, minInstances: 7, renewalPercent: 0.7 },
      restoreGraceMs: 20_000,
      writeAuth: { scheme: 'basic', user: 'eureka', password: 'pw' },
      readAuth: undefined,
      peers: [],
      peerSyncTimeoutMs: 5000,
      environment: 'development',
      maxWatchers: 1000,
      maxWatchersPerAddress: 100,
      apiDocs: true,
      limits: {
        maxInstanceBytes: 32 * 1024,
        maxInstances: 20_000,
        maxInstancesPerApp: 2000,
        maxMetadataEntries: 64,
        maxMetadataBytes: 8192,
        maxLeaseSecs: 300,
        maxClockSkewMs: 60_000,
      },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads the registration limits, each with its own flag and variable', () => {
    const config = loadConfig({
      argv: ['--max-instances-per-app', '3', '--max-lease-secs', '120'],
      env: { REGISTRY_MAX_CLOCK_SKEW_SECS: '5', REGISTRY_MAX_METADATA_ENTRIES: '2' },
    });
    expect(config.limits).toMatchObject({
      maxInstancesPerApp: 3,
      maxLeaseSecs: 120,
      maxClockSkewMs: 5000,
      maxMetadataEntries: 2,
    });
    expect(() => loadConfig({ env: { REGISTRY_MAX_LEASE_SECS: '5' } })).toThrow(
      /^invalid REGISTRY_MAX_LEASE_SECS: "5" is not a whole number from 30/,
    );
  });

  it('reads --peers into URLs without credentials in their label, sending user info or the write credential', () => {
    const config = loadConfig({
      argv: ['--peers', 'http://eureka:s3cret@node-b:8762/eureka/, http://node-c:8763/eureka'],
      env: { REGISTRY_WRITE_AUTH: 'bearer:landscape' },
    });
    expect(config.peers).toEqual([
      {
        url: 'http://node-b:8762/eureka',
        label: 'http://node-b:8762/eureka',
        authorization: 'Basic ZXVyZWthOnMzY3JldA==',
      },
      { url: 'http://node-c:8763/eureka', label: 'http://node-c:8763/eureka', authorization: 'Bearer landscape' },
    ]);
    // A bad entry names the variable and never echoes the list (it may hold a password).
    expect(() => loadConfig({ env: { REGISTRY_PEERS: 'http://a:pw@ok:1/eureka,ftp://x' } })).toThrow(
      /^invalid REGISTRY_PEERS: is not a comma-separated list of http\(s\) URLs/,
    );
  });

  it('never starts open to writes, or with the docker-compose credential, when NODE_ENV=production', () => {
    const production = { NODE_ENV: 'production' };
    expect(() => loadConfig({ env: production })).toThrow(
      /^with NODE_ENV=production the registry needs --write-auth \(REGISTRY_WRITE_AUTH\); set --allow-open-writes/,
    );
    expect(loadConfig({ env: { ...production, REGISTRY_ALLOW_OPEN_WRITES: 'true' } }).writeAuth).toBeUndefined();
    expect(loadConfig({ env: { ...production, REGISTRY_WRITE_AUTH: 'basic:ops:s3cret' } }).writeAuth).toBeDefined();
    let message = '';
    try {
      loadConfig({ env: { ...production, REGISTRY_WRITE_AUTH: 'basic:registry:trellis-dev-only-registry-secret' } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^the development registry credential of docker-compose.yml is refused/);
    expect(message).not.toContain('trellis-dev-only-registry-secret');
    // Development keeps Eureka's behaviour (open writes, with a warning at start).
    expect(loadConfig({ env: {} }).writeAuth).toBeUndefined();
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
