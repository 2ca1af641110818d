// No container engine runs here, so the compose file is checked for what would break a `docker compose up`: every
// component has a service built from the one image, its port published, and the variables its settings read.
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
import { DEV_ENCRYPT_KEY } from '@trellis/examples';
import { catalogue, loadAll } from '../src/catalogue.ts';

const root = resolve(import.meta.dirname, '../..');
const components = await loadAll(catalogue);
interface ComposeService {
  build?: string;
  image?: string;
  command?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  networks?: { default?: { ipv4_address?: string } };
}
const compose = parse(readFileSync(resolve(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
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

describe('docker-compose.yml', () => {
  it('runs every component of trellis up from the one image built at the repository root', () => {
    for (const c of components) {
      const service = compose.services[c.name];
      expect(service, c.name).toBeDefined();
      expect(service?.build).toBe('.');
      expect(service?.image).toBe('trellis:latest');
      expect(service?.command).toEqual([c.name]);
    }
    expect(readFileSync(resolve(root, 'Dockerfile'), 'utf8')).toMatch(/ENTRYPOINT \["node", "cli\/bin\/trellis.js"\]/);
  });

  it('gives each component its port and only variables its settings read', () => {
    for (const c of components) {
      const env = compose.services[c.name]?.environment ?? {};
      const portVar = PORTS[c.name] ?? '';
      expect(env[portVar], c.name).toMatch(/^\d+$/);
      const known = envNames(c.settings);
      for (const name of Object.keys(env)) {
        // The gateway's routes file resolves its own ${…} placeholders from the environment.
        const placeholder = c === gatewayComponent && /_URL$/.test(name);
        expect(known.has(name) || placeholder, `${c.name}: ${name}`).toBe(true);
      }
    }
    expect(compose.services.gateway?.ports).toEqual(
      expect.arrayContaining(['127.0.0.1:8080:8080', '127.0.0.1:8443:8443']),
    );
    expect(compose.services.registry?.ports).toContain('127.0.0.1:8761:8761');
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

  it('uses RabbitMQ as the broker of every example service, the docker profile, and the dev encrypt key', () => {
    expect(compose.services.rabbitmq?.ports).toContain('127.0.0.1:5672:5672');
    for (const name of ['product', 'recommendation', 'review', 'product-composite']) {
      const env = compose.services[name]?.environment ?? {};
      expect(env.TRELLIS_BROKER_URL, name).toMatch(/^amqp:\/\/.*@rabbitmq:5672$/);
      expect(env.SPRING_PROFILES_ACTIVE).toBe('docker');
    }
    expect(compose.services['config-server']?.environment?.ENCRYPT_KEY).toBe(DEV_ENCRYPT_KEY);
  });

  it('reads configuration over HTTPS from a certificate naming config-server, with a credential it accepts', () => {
    const server = compose.services['config-server']?.environment ?? {};
    const clients = parseClients(server.CONFIG_CLIENTS ?? '');
    const names = (server.CONFIG_SERVER_TLS_HOSTNAMES ?? '').split(',');
    for (const name of ['product', 'recommendation', 'review', 'product-composite']) {
      const uri = new URL(compose.services[name]?.environment?.SPRING_CLOUD_CONFIG_URI ?? '');
      expect(uri.protocol, name).toBe('https:');
      expect(names, name).toContain(uri.hostname);
      const client = clients.find((c) => c.id === decodeURIComponent(uri.username));
      expect(client?.secret, name).toBe(decodeURIComponent(uri.password));
      expect(client?.applications, name).toEqual([name]);
    }
  });

  it('registers every component that registers with a registry credential of its own application only', () => {
    const registry = loadRegistryConfig({ env: compose.services.registry?.environment ?? {} });
    // Found by what they read, not by name: every component whose settings take a registry URL registers.
    const writers = components.filter((c) => envNames(c.settings).has('EUREKA_CLIENT_SERVICEURL_DEFAULTZONE'));
    expect(writers.length).toBeGreaterThan(0);
    for (const c of writers) {
      const url = new URL(compose.services[c.name]?.environment?.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE ?? 'http://x');
      expect([c.name, url.host]).toEqual([c.name, 'registry:8761']);
      const basic = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      // A client of the registry limited to its application, never the all-applications write credential.
      expect([c.name, registry.clients?.basic(basic)?.scopes]).toEqual([c.name, [c.name.toUpperCase()]]);
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
