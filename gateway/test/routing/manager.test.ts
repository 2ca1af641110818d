import { ConfigProperties } from '@trellis/clients/config';
import { createLogger } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import { readGatewayProperties } from '../../src/routing/config-source.ts';
import { readRouteDefinition } from '../../src/routing/definition.ts';
import { readGatewayDocument, readGatewayFile, type GatewayLayer } from '../../src/routing/document.ts';
import { RouteManager, type RouteSource } from '../../src/routing/manager.ts';
import { RouteState } from '../../src/routing/table.ts';

const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });

/** A source whose YAML the test swaps, as a file or a config server would change. */
function source(name: string, yaml: string): RouteSource & { yaml: string } {
  return {
    name,
    yaml,
    load() {
      return Promise.resolve(readGatewayFile(this.yaml));
    },
  };
}

function manager(file: RouteSource | undefined, config: RouteSource | undefined, now = () => 1000) {
  return new RouteManager(
    { file, config },
    { requireTokens: false, canVerifyTokens: false, canDiscover: false, logger, now, state: new RouteState() },
  );
}

const ids = (m: RouteManager) => m.table.routes.map((r) => r.id);

const FILE = `
spring.cloud.gateway:
  default-filters: ['AddResponseHeader=X-Layer, file']
  httpclient: {connect-timeout: 1000}
  routes:
  - {id: a, uri: 'http://localhost:1', predicates: [Path=/a]}
  - {id: b, uri: 'http://localhost:1', predicates: [Path=/b]}
`;

describe('RouteManager precedence: runtime routes, then the config server, then the routes file', () => {
  it("takes the config server's route list whole and the file's other parts it does not set", async () => {
    const config = source(
      'config',
      `spring.cloud.gateway.routes:\n- {id: c, uri: 'http://localhost:2', predicates: [Path=/c]}\n`,
    );
    const m = manager(source('file', FILE), config);
    await m.refresh();
    expect(ids(m)).toEqual(['c']);
    expect(m.document.defaultFilters).toEqual([
      { name: 'AddResponseHeader', args: { _genkey_0: 'X-Layer', _genkey_1: 'file' } },
    ]);
    expect(m.document.connectTimeoutMs).toBe(1000);
    expect(m.originOf('c')).toBe('config');
    // Parts the config server sets replace the file's.
    config.yaml = `spring.cloud.gateway:\n  default-filters: ['AddResponseHeader=X-Layer, config']\n  routes: []\n`;
    await m.reload('config');
    expect(ids(m)).toEqual([]);
    expect(m.document.defaultFilters[0]?.args._genkey_1).toBe('config');
    // No routes key at all: the file's list applies again.
    config.yaml = 'spring.cloud.gateway.httpclient.connect-timeout: 3s\n';
    await m.reload('config');
    expect(ids(m)).toEqual(['a', 'b']);
    expect(m.originOf('a')).toBe('file');
    expect(m.document.connectTimeoutMs).toBe(3000);
  });

  it('keeps runtime routes over both layers, across reloads', async () => {
    const config = source(
      'config',
      `spring.cloud.gateway.routes:\n- {id: a, uri: 'http://localhost:2', predicates: [Path=/c]}\n`,
    );
    const m = manager(source('file', FILE), config);
    await m.refresh();
    m.put(readRouteDefinition({ id: 'a', uri: 'http://localhost:3', predicates: ['Path=/runtime'] }));
    config.yaml = `spring.cloud.gateway.routes:\n- {id: a, uri: 'http://localhost:2', predicates: [Path=/changed]}\n- {id: d, uri: 'http://localhost:2', predicates: [Path=/d]}\n`;
    await m.reload('config');
    expect(m.table.get('a')?.definition.uri).toBe('http://localhost:3');
    expect(m.originOf('a')).toBe('api');
    expect(() => m.delete('d')).toThrow(/comes from the config server/);
    m.delete('a');
    expect(m.table.get('a')?.definition.predicates[0]?.args._genkey_0).toBe('/changed');
  });

  it('refuses a broken route set, keeps the table, names the source, and forgets the problem once fixed', async () => {
    const file = source('routes.yml', FILE);
    const config = source(
      'config server',
      `spring.cloud.gateway.routes:\n- {id: c, uri: 'http://localhost:2', predicates: [Path=/c]}\n`,
    );
    const m = manager(file, config, () => 42);
    await m.refresh();
    const before = m.table;
    config.yaml = `spring.cloud.gateway.routes:\n- {id: c, uri: 'http://localhost:2', predicates: [Path=/c], filters: [Nope]}\n`;
    await expect(m.reload('config')).rejects.toThrow(GatewayError);
    expect(m.table).toBe(before);
    expect(m.problems.map((p) => [p.source, p.at])).toEqual([['config server', 42]]);
    expect(m.problems[0]?.message).toMatch(/route c: filter Nope/);
    // A refresh that reloads both blames only the source whose routes fail.
    file.yaml = FILE.replace('Path=/a', 'Path=/a2');
    await expect(m.refresh()).rejects.toThrow(/filter Nope/);
    expect(m.problems.map((p) => p.source)).toEqual(['config server']);
    config.yaml = `spring.cloud.gateway.routes:\n- {id: c, uri: 'http://localhost:2', predicates: [Path=/c2]}\n`;
    await m.reload('config');
    expect(m.problems).toEqual([]);
    expect(m.table.get('c')?.definition.predicates[0]?.args._genkey_0).toBe('/c2');
  });
});

describe("the config server's flattened properties", () => {
  const yaml = `
spring:
  cloud:
    gateway:
      default-filters:
        - SecureHeaders
      routes:
        - id: limited
          uri: \${target}
          predicates:
            - Path=/limited/**
            - Method=GET,POST
          filters:
            - StripPrefix=1
            - name: RequestRateLimiter
              args:
                redis-rate-limiter:
                  replenishRate: 2
                  burstCapacity: 4
                key-resolver: "#{@ipKeyResolver}"
        - id: secret-uri
          uri: http://user:pw@localhost:7002
          predicates:
            - Path=/s/**
`;
  // What Spring's config server sends for that file (YAML lists become [n] keys), beside application.yml.
  const flattened = new ConfigProperties({
    name: 'gateway',
    profiles: ['default'],
    label: null,
    version: 'v1',
    state: null,
    propertySources: [
      {
        name: 'file:config-repo/gateway.yml',
        source: {
          'spring.cloud.gateway.default-filters[0]': 'SecureHeaders',
          'spring.cloud.gateway.routes[0].id': 'limited',
          'spring.cloud.gateway.routes[0].uri': '${target}',
          'spring.cloud.gateway.routes[0].predicates[0]': 'Path=/limited/**',
          'spring.cloud.gateway.routes[0].predicates[1]': 'Method=GET,POST',
          'spring.cloud.gateway.routes[0].filters[0]': 'StripPrefix=1',
          'spring.cloud.gateway.routes[0].filters[1].name': 'RequestRateLimiter',
          'spring.cloud.gateway.routes[0].filters[1].args.redis-rate-limiter.replenishRate': 2,
          'spring.cloud.gateway.routes[0].filters[1].args.redis-rate-limiter.burstCapacity': 4,
          'spring.cloud.gateway.routes[0].filters[1].args.key-resolver': '#{@ipKeyResolver}',
          'spring.cloud.gateway.routes[1].id': 'secret-uri',
          'spring.cloud.gateway.routes[1].uri': 'http://user:pw@localhost:7002',
          'spring.cloud.gateway.routes[1].predicates[0]': 'Path=/s/**',
        },
      },
      { name: 'file:config-repo/application.yml', source: { target: 'http://localhost:7001' } },
    ],
  });

  it('mean the same routes as the YAML file they came from', () => {
    const fromServer = readGatewayProperties(flattened);
    const fromFile = readGatewayDocument(yaml, { target: 'http://localhost:7001' });
    expect(fromServer.routes).toEqual(fromFile.routes);
    expect(fromServer.defaultFilters).toEqual(fromFile.defaultFilters);
    expect(fromServer.routes?.[0]?.uri).toBe('http://localhost:7001');
    // The client masks a URL with a password as a secret; the route still needs it as written.
    expect(fromServer.routes?.[1]?.uri).toBe('http://user:pw@localhost:7002');
  });

  it('resolve placeholders from the configuration first, then the environment, and leave unknown ones', () => {
    const layer: GatewayLayer = readGatewayProperties(
      new ConfigProperties({
        name: 'gateway',
        profiles: ['default'],
        label: null,
        version: null,
        state: null,
        propertySources: [
          {
            name: 'gateway.properties',
            source: {
              'spring.cloud.gateway.routes[0].id': 'r',
              'spring.cloud.gateway.routes[0].uri': '${AUTH_SERVER_URL:http://localhost:9999}',
              'spring.cloud.gateway.routes[0].filters[0]': 'RewritePath=/x/(?<segment>.*), /${segment}',
            },
          },
        ],
      }),
      { AUTH_SERVER_URL: 'http://auth:9999' },
    );
    expect(layer.routes?.[0]?.uri).toBe('http://auth:9999');
    expect(layer.routes?.[0]?.filters[0]?.args._genkey_1).toBe('/${segment}');
    expect(layer.defaultFilters).toBeUndefined();
  });
});
