// No container engine runs here, so the compose files are checked for what would break a `docker compose up`: every
// component has a service built from the one image, its port published, and the variables its settings read. The
// partitioned RabbitMQ landscape and the Kafka one are held to docker-compose.yml: only the broker and the second
// instance of each core service may differ.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { authServerComponent } from '@trellis/auth-server';
import { createLogger, loadSettings } from '@trellis/kit';
import { parseClients } from '@trellis/config-server';
import { gatewayComponent } from '@trellis/gateway';
import { loadConfig as loadRegistryConfig } from '@trellis/registry';
import { DESTINATIONS, DEV_ENCRYPT_KEY, productCompositeComponent } from '@trellis/examples';
import { chooseBinder } from '../src/binder-choice.ts';
import { catalogue, loadAll } from '../src/catalogue.ts';

const root = resolve(import.meta.dirname, '../..');
const components = await loadAll(catalogue);
interface ComposeService {
  build?: string;
  image?: string;
  command?: string[];
  ports?: string[];
  depends_on?: string[];
  environment?: Record<string, string>;
  networks?: { default?: { ipv4_address?: string } };
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  networks?: Record<string, unknown>;
}
const load = (file: string): ComposeFile =>
  parse(readFileSync(resolve(root, file), 'utf8'), { merge: true }) as ComposeFile;
const base = load('docker-compose.yml');

/** Each landscape: its file, its broker's service, and the URL its services reach the broker at. */
const LANDSCAPES = [
  { file: 'docker-compose.yml', broker: 'rabbitmq', brokerUrl: /^amqp:\/\/.*@rabbitmq:5672$/, partitions: 1 },
  {
    file: 'docker-compose-partitions.yml',
    broker: 'rabbitmq',
    brokerUrl: /^amqp:\/\/.*@rabbitmq:5672$/,
    partitions: 2,
  },
  { file: 'docker-compose-kafka.yml', broker: 'kafka', brokerUrl: /^kafka:\/\/kafka:19092$/, partitions: 2 },
] as const;
const CORE = Object.keys(DESTINATIONS);
const EXAMPLES = [...CORE, 'product-composite'];
/** Where each broker's services go in a landscape on two partitions: a `-p1` service reads partition 1. */
const SECOND_INSTANCE = '-p1';
/** The variables in which the variants may differ from docker-compose.yml. */
const VARIANT_ENV = new Set([
  'TRELLIS_BROKER_URL',
  'SPRING_CLOUD_STREAM_INSTANCEINDEX',
  'SPRING_CLOUD_STREAM_INSTANCECOUNT',
  'PRODUCT_COMPOSITE_EVENT_PARTITIONS',
]);
/** Read beside the settings: the components' checks of their settings against the environment. */
const CHECKED_ENV = ['NODE_ENV'];
const PORTS: Record<string, string> = {
  registry: 'REGISTRY_PORT',
  'config-server': 'CONFIG_SERVER_PORT',
  'auth-server': 'AUTH_SERVER_PORT',
  gateway: 'GATEWAY_PORT',
  product: 'PRODUCT_PORT',
  recommendation: 'RECOMMENDATION_PORT',
  review: 'REVIEW_PORT',
  'product-composite': 'PRODUCT_COMPOSITE_PORT',
};

function envNames(settings: Record<string, { env?: string | readonly string[] }>): Set<string> {
  return new Set(
    Object.values(settings).flatMap((s) =>
      s.env === undefined ? [] : typeof s.env === 'string' ? [s.env] : [...s.env],
    ),
  );
}

describe.each(LANDSCAPES)('$file', ({ file, broker, brokerUrl, partitions }) => {
  const compose = load(file);
  /** The component each service runs (several services may run one component). */
  const runs = (name: string): string => compose.services[name]?.command?.[0] ?? '';
  const servicesOf = (component: string): string[] =>
    Object.keys(compose.services).filter((name) => runs(name) === component);

  it('runs every component of trellis up from the one image built at the repository root, and nothing else but the broker', () => {
    for (const c of components) {
      const service = compose.services[c.name];
      expect(service, c.name).toBeDefined();
      expect(service?.command).toEqual([c.name]);
    }
    for (const [name, service] of Object.entries(compose.services)) {
      if (name === broker) continue;
      expect([name, service.build, service.image]).toEqual([name, '.', 'trellis:latest']);
      expect(
        components.map((c) => c.name),
        name,
      ).toContain(runs(name));
    }
  });

  it('gives each component its port and only variables its settings read', () => {
    for (const c of components) {
      for (const name of servicesOf(c.name)) {
        const env = compose.services[name]?.environment ?? {};
        const portVar = PORTS[c.name] ?? '';
        expect(env[portVar], name).toMatch(/^\d+$/);
        const known = new Set([...envNames(c.settings), ...CHECKED_ENV]);
        for (const variable of Object.keys(env)) {
          // The gateway's routes file resolves its own ${…} placeholders from the environment.
          const placeholder = c === gatewayComponent && /_URL$/.test(variable);
          expect(known.has(variable) || placeholder, `${name}: ${variable}`).toBe(true);
        }
      }
    }
    expect(compose.services.gateway?.ports).toEqual(
      expect.arrayContaining(['127.0.0.1:8080:8080', '127.0.0.1:8443:8443']),
    );
    expect(compose.services.registry?.ports).toContain('127.0.0.1:8761:8761');
  });

  it("runs every service of the image in development, whose trellis-dev-only credentials the image's production refuses", () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (name !== broker) expect([name, service.environment?.NODE_ENV]).toEqual([name, 'development']);
    }
    const registry = compose.services.registry?.environment ?? {};
    expect(() => loadRegistryConfig({ env: { ...registry, NODE_ENV: 'production' } })).toThrow(
      /trellis-dev-only|docker-compose/,
    );
  });

  it('publishes nothing beyond this machine (its dev credentials are public), and lets the auth server trust only the gateway as a proxy', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
    const gatewayAddress = compose.services.gateway?.networks?.default?.ipv4_address;
    expect(gatewayAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(compose.services['auth-server']?.environment?.AUTH_TRUSTED_PROXIES).toBe(gatewayAddress);
    // An address alone could be claimed: the gateway also proves itself with the shared proxy secret.
    const secret = compose.services['auth-server']?.environment?.AUTH_TRUSTED_PROXY_SECRET;
    expect(secret?.length).toBeGreaterThanOrEqual(16);
    expect(compose.services.gateway?.environment?.GATEWAY_PROXY_SECRET).toBe(secret);
  });

  it('gives every example service the broker, the docker profile, and the dev encrypt key', () => {
    for (const name of EXAMPLES.flatMap(servicesOf)) {
      const env = compose.services[name]?.environment ?? {};
      expect(env.TRELLIS_BROKER_URL, name).toMatch(brokerUrl);
      expect(chooseBinder({ brokerUrl: env.TRELLIS_BROKER_URL }).kind).toBe(broker === 'kafka' ? 'kafka' : 'rabbit');
      expect(compose.services[name]?.depends_on, name).toContain(broker);
      expect(env.SPRING_PROFILES_ACTIVE).toBe('docker');
    }
    expect(compose.services['config-server']?.environment?.ENCRYPT_KEY).toBe(DEV_ENCRYPT_KEY);
  });

  it(`reads each destination in ${partitions} partition(s): one instance of each core service per partition, and the composite sends to all`, () => {
    for (const core of CORE) {
      const instances = servicesOf(core).map((name) => {
        const env = compose.services[name]?.environment ?? {};
        return [env.SPRING_CLOUD_STREAM_INSTANCEINDEX, env.SPRING_CLOUD_STREAM_INSTANCECOUNT];
      });
      expect(instances, core).toEqual(
        partitions === 1 ? [[undefined, undefined]] : [0, 1].map((i) => [String(i), String(partitions)]),
      );
    }
    const composite = compose.services['product-composite']?.environment ?? {};
    const { eventPartitions } = loadSettings(productCompositeComponent.settings, { env: composite });
    expect(eventPartitions).toEqual(partitions === 1 ? {} : Object.fromEntries(CORE.map((c) => [c, partitions])));
  });

  it('reads configuration over HTTPS from a certificate naming config-server, with a credential it accepts', () => {
    const server = compose.services['config-server']?.environment ?? {};
    const clients = parseClients(server.CONFIG_CLIENTS ?? '');
    const names = (server.CONFIG_SERVER_TLS_HOSTNAMES ?? '').split(',');
    for (const name of EXAMPLES.flatMap(servicesOf)) {
      const uri = new URL(compose.services[name]?.environment?.SPRING_CLOUD_CONFIG_URI ?? '');
      expect(uri.protocol, name).toBe('https:');
      expect(names, name).toContain(uri.hostname);
      const client = clients.find((c) => c.id === decodeURIComponent(uri.username));
      expect(client?.secret, name).toBe(decodeURIComponent(uri.password));
      expect(client?.applications, name).toEqual([runs(name)]);
    }
  });

  it('registers every component that registers with a registry credential of its own application only', () => {
    const registry = loadRegistryConfig({ env: compose.services.registry?.environment ?? {} });
    // Found by what they read, not by name: every component whose settings take a registry URL registers.
    const writers = components.filter((c) => envNames(c.settings).has('EUREKA_CLIENT_SERVICEURL_DEFAULTZONE'));
    expect(writers.length).toBeGreaterThan(0);
    for (const name of writers.flatMap((c) => servicesOf(c.name))) {
      const url = new URL(compose.services[name]?.environment?.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE ?? 'http://x');
      expect([name, url.host]).toEqual([name, 'registry:8761']);
      const basic = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      // A client of the registry limited to its application, never the all-applications write credential.
      expect([name, registry.clients?.basic(basic)?.scopes]).toEqual([name, [runs(name).toUpperCase()]]);
    }
  });

  it('gives the gateway the introspection credential the auth server seeds for it, so revoked tokens cannot write', async () => {
    // The seeded gateway client's secret derives from the auth server's key, fixed here for development, so the
    // compose file can name it; an auth server started with that key must hand on exactly this credential.
    const auth = compose.services['auth-server']?.environment ?? {};
    const gateway = compose.services.gateway?.environment ?? {};
    expect(auth.AUTH_KEY_ENCRYPTION_KEY).toMatch(/^trellis-dev-only-/);
    const dir = await mkdtemp(join(tmpdir(), 'compose-auth-'));
    try {
      const settings = loadSettings(authServerComponent.settings, {
        argv: ['--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
        env: { AUTH_KEY_ENCRYPTION_KEY: auth.AUTH_KEY_ENCRYPTION_KEY ?? '' },
      });
      const running = await authServerComponent.start(settings, {
        logger: createLogger({ name: 'test', level: 'silent', format: 'json' }),
        env: {},
      });
      await running.stop();
      expect(running.exports).toEqual({
        GATEWAY_INTROSPECTION_CLIENT_ID: gateway.GATEWAY_INTROSPECTION_CLIENT_ID,
        GATEWAY_INTROSPECTION_CLIENT_SECRET: gateway.GATEWAY_INTROSPECTION_CLIENT_SECRET,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** A service as docker-compose.yml would have it: without what a variant may change (broker, partitions). */
function comparable(service: ComposeService | undefined, broker: string): ComposeService {
  const env = Object.entries(service?.environment ?? {}).filter(([k]) => !VARIANT_ENV.has(k));
  return {
    ...service,
    ...(service?.depends_on === undefined
      ? {}
      : { depends_on: service.depends_on.map((d) => (d === broker ? 'BROKER' : d)) }),
    ...(service?.environment === undefined ? {} : { environment: Object.fromEntries(env) }),
  };
}

describe('docker-compose-partitions.yml and docker-compose-kafka.yml', () => {
  it.each(LANDSCAPES.slice(1))(
    '$file is docker-compose.yml but for the broker and a second instance of each core service',
    ({ file, broker }) => {
      const variant = load(file);
      const expected = Object.keys(base.services)
        .filter((name) => name !== 'rabbitmq')
        .flatMap((name) => (CORE.includes(name) ? [name, `${name}${SECOND_INSTANCE}`] : [name]));
      expect(Object.keys(variant.services).sort()).toEqual([...expected, broker].sort());
      for (const name of expected) {
        const original = base.services[name.replace(SECOND_INSTANCE, '')];
        expect(comparable(variant.services[name], broker), name).toEqual(comparable(original, 'rabbitmq'));
      }
      if (broker === 'rabbitmq') expect(variant.services.rabbitmq).toEqual(base.services.rabbitmq);
      expect(variant.networks).toEqual(base.networks);
      expect(Object.keys(variant.volumes ?? {})).toEqual([
        ...Object.keys(base.volumes ?? {}),
        ...(broker === 'kafka' ? ['kafka'] : []),
      ]);
    },
  );

  it('runs Kafka 4.1 in KRaft mode (broker and controller, no ZooKeeper), reached by the services and by this machine', () => {
    const kafka = load('docker-compose-kafka.yml').services.kafka;
    const env = kafka?.environment ?? {};
    expect(kafka?.image).toBe('apache/kafka:4.1.1');
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(Object.keys(env).filter((k) => /ZOOKEEPER/.test(k))).toEqual([]);
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${env.KAFKA_NODE_ID}@kafka:29093`);
    // Each advertised address has a listener on its port: the services' kafka:19092, this machine's localhost:9092.
    const listeners = new Map(
      (env.KAFKA_LISTENERS ?? '').split(',').map((l) => [l.split('://')[0], l.split(':').pop()] as const),
    );
    const advertised = (env.KAFKA_ADVERTISED_LISTENERS ?? '').split(',').map((l) => l.split('://'));
    expect(advertised.map(([name, address]) => [address, listeners.get(name ?? '')])).toEqual([
      ['kafka:19092', '19092'],
      ['localhost:9092', '9092'],
    ]);
    expect(kafka?.ports).toEqual(['127.0.0.1:9092:9092']);
    // One node: the internal topics have one replica.
    for (const key of ['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR']) {
      expect(env[key], key).toBe('1');
    }
    expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });
});
