// What `trellis up` hands its components: the registry is write-protected with a credential every registering
// component receives in its registry URL, made per run in development and never made in production.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { authServerComponent } from '@trellis/auth-server';
import { loadSettings, type Running } from '@trellis/kit';
import { gatewayComponent, loadConfig as loadGatewayConfig } from '@trellis/gateway';
import { loadConfig, registryComponent } from '@trellis/registry';
import { parseRegistryUrls } from '../../clients/src/discovery/registry-http.ts';
import { main } from '../src/main.ts';
import { exportsOf, landscapeEnv, landscapeFlags, tryItLines, wiringFrom } from '../src/up.ts';

const registryRunning: Running = {
  name: 'registry',
  endpoints: [{ protocol: 'http', port: 8761, url: 'http://localhost:8761' }],
  offers: { registry: 'http://localhost:8761' },
  stop: () => Promise.resolve(),
};

describe('landscapeEnv: the gateway route management credential', () => {
  it('makes one per run in development, which the gateway reads as --admin-auth, and prints it in the notes', () => {
    const a = landscapeEnv({}, {});
    const b = landscapeEnv({}, {});
    const secret = /^basic:admin:([\w-]{24})$/.exec(a.env.GATEWAY_ADMIN_AUTH ?? '')?.[1];
    expect(secret).toBeDefined();
    expect(a.env.GATEWAY_ADMIN_AUTH).not.toBe(b.env.GATEWAY_ADMIN_AUTH);
    expect(loadGatewayConfig({ argv: [], env: a.env }).adminAuth).toEqual({
      scheme: 'basic',
      user: 'admin',
      password: secret,
    });
    expect(a.notes).toContain(
      `gateway: development admin credential admin / ${secret} (/actuator/gateway route API; this run only)`,
    );
  });

  it('keeps GATEWAY_ADMIN_AUTH when given, printing nothing, and makes none in production (the API stays off)', () => {
    const given = landscapeEnv({ GATEWAY_ADMIN_AUTH: 'bearer:ops-t0ken' }, {});
    expect(given.env.GATEWAY_ADMIN_AUTH).toBe('bearer:ops-t0ken');
    expect(given.notes.join('\n')).not.toMatch(/ops-t0ken|admin credential/);
    const prod = landscapeEnv(
      { NODE_ENV: 'production', ENCRYPT_KEY: 'k', CONFIG_CLIENTS: 'a:b:*', REGISTRY_WRITE_AUTH: 'basic:ops:s3cret' },
      {},
    );
    expect(prod.env.GATEWAY_ADMIN_AUTH).toBeUndefined();
    expect(prod.notes.join('\n')).not.toMatch(/admin credential/);
  });
});

describe('landscapeEnv: the registry write credential', () => {
  it('makes one per run in development, turns on write protection with it and prints it in the notes', () => {
    const a = landscapeEnv({}, {});
    const b = landscapeEnv({}, {});
    expect(a.registryCredential?.id).toBe('registry');
    expect(a.registryCredential?.secret).toMatch(/^[\w-]{24}$/);
    expect(a.registryCredential?.secret).not.toBe(b.registryCredential?.secret);
    expect(a.env.REGISTRY_WRITE_AUTH).toBe(`basic:registry:${a.registryCredential?.secret}`);
    // The registry reads it as its write credential.
    expect(loadConfig({ env: a.env }).writeAuth).toEqual({
      scheme: 'basic',
      user: 'registry',
      password: a.registryCredential?.secret,
    });
    expect(a.notes).toContain(
      `registry: development write credential registry / ${a.registryCredential?.secret} (register, renew, cancel; this run only)`,
    );
  });

  it('keeps a credential given in REGISTRY_WRITE_AUTH and hands that one out, printing nothing', () => {
    const given = landscapeEnv({ REGISTRY_WRITE_AUTH: 'basic:ops:p@ss:word' }, {});
    expect(given.env.REGISTRY_WRITE_AUTH).toBe('basic:ops:p@ss:word');
    expect(given.registryCredential).toEqual({ id: 'ops', secret: 'p@ss:word' });
    expect(given.notes.join('\n')).not.toContain('p@ss');
  });

  it('refuses to start in production without REGISTRY_WRITE_AUTH, naming the variable, and never makes one there', () => {
    expect(() => landscapeEnv({ NODE_ENV: 'production', ENCRYPT_KEY: 'k', CONFIG_CLIENTS: 'a:b:*' }, {})).toThrow(
      'with NODE_ENV=production, trellis up needs REGISTRY_WRITE_AUTH (basic:<user>:<password>) so the registry is never open to writes',
    );
    const prod = landscapeEnv(
      { NODE_ENV: 'production', ENCRYPT_KEY: 'k', CONFIG_CLIENTS: 'a:b:*', REGISTRY_WRITE_AUTH: 'basic:ops:s3cret' },
      {},
    );
    expect(prod.registryCredential).toEqual({ id: 'ops', secret: 's3cret' });
    expect(prod.notes.join('\n')).not.toContain('s3cret');
  });

  it('`trellis up` in production without REGISTRY_WRITE_AUTH prints one line and exits 2 before starting anything', async () => {
    let err = '';
    const codes: number[] = [];
    await main(
      ['up'],
      { NODE_ENV: 'production', ENCRYPT_KEY: 'k', CONFIG_CLIENTS: 'a:b:*' },
      { components: [], stderr: { write: (t: string) => (err += t) }, exit: (code) => void codes.push(code) },
    );
    expect(err).toBe(
      'trellis: with NODE_ENV=production, trellis up needs REGISTRY_WRITE_AUTH (basic:<user>:<password>) so the registry is never open to writes\n',
    );
    expect(codes).toEqual([2]);
  });

  it('refuses a credential the services could not send, without echoing it', () => {
    expect(() => landscapeEnv({ REGISTRY_WRITE_AUTH: 'bearer:tok3n' }, {})).toThrow(
      /^REGISTRY_WRITE_AUTH is a bearer token, which the services cannot send from a registry URL/,
    );
    // Whoever sets the services' registry URL takes care of their credential.
    const own = landscapeEnv(
      { REGISTRY_WRITE_AUTH: 'bearer:tok3n', EUREKA_CLIENT_SERVICEURL_DEFAULTZONE: 'http://r:8761/eureka/' },
      {},
    );
    expect(own.registryCredential).toBeUndefined();
    let message = '';
    try {
      landscapeEnv({ REGISTRY_WRITE_AUTH: 'basic:only-a-user-s3cret' }, {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('invalid REGISTRY_WRITE_AUTH: basic credentials need a user and a password');
  });
});

describe('wiringFrom: what the components after the registry learn', () => {
  it('gives them the registry URL with the write credential as user info, and the gateway a URL without it', () => {
    const landscape = landscapeEnv({}, {});
    const secret = landscape.registryCredential?.secret ?? '';
    const wiring = wiringFrom(registryRunning, landscape.env, landscape);
    expect(wiring.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE).toBe(`http://registry:${secret}@localhost:8761/eureka/`);
    expect(wiring.REGISTRY_URL).toBe('http://localhost:8761');
    // The discovery client turns the user info into the Basic header the registry checks, and logs the URL without it.
    expect(parseRegistryUrls(wiring.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE ?? '')).toEqual([
      { url: 'http://localhost:8761/eureka/', basic: Buffer.from(`registry:${secret}`).toString('base64') },
    ]);
    // A registry URL the user set is left alone: whoever set it gives it its credential.
    const own = landscapeEnv({ EUREKA_CLIENT_SERVICEURL_DEFAULTZONE: 'http://elsewhere:8761/eureka/' }, {});
    expect(wiringFrom(registryRunning, own.env, own).EUREKA_CLIENT_SERVICEURL_DEFAULTZONE).toBeUndefined();
  });
});

describe('docker-compose.yml', () => {
  it('write-protects the registry and gives every component that registers a credential for its own application only', () => {
    const compose = parse(readFileSync(resolve(import.meta.dirname, '../../docker-compose.yml'), 'utf8'), {
      merge: true,
    }) as { services: Record<string, { environment?: Record<string, string> }> };
    const registry = loadConfig({ env: compose.services.registry?.environment ?? {} });
    expect(registry.writeAuth?.scheme).toBe('basic');
    for (const name of ['gateway', 'product', 'recommendation', 'review', 'product-composite']) {
      const url = new URL(compose.services[name]?.environment?.EUREKA_CLIENT_SERVICEURL_DEFAULTZONE ?? 'http://x');
      expect([name, url.host]).toEqual([name, 'registry:8761']);
      const basic = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      expect([name, registry.clients?.basic(basic)]).toEqual([name, { id: name, scopes: [name.toUpperCase()] }]);
    }
  });
});

describe('landscapeEnv: per-application registry credentials', () => {
  const basic = (c: { id: string; secret: string } | undefined): string =>
    `Basic ${Buffer.from(`${c?.id}:${c?.secret}`).toString('base64')}`;

  it('makes each registering component a credential limited to its own application, never printed', () => {
    const landscape = landscapeEnv({}, {}, [], ['gateway', 'review', 'product-composite']);
    const own = landscape.registryCredentials ?? {};
    expect(Object.keys(own)).toEqual(['gateway', 'review', 'product-composite']);
    const secrets = Object.values(own).map((c) => c.secret);
    expect(new Set([...secrets, landscape.registryCredential?.secret]).size).toBe(4);
    // The registry reads them from REGISTRY_CLIENTS, each limited to its component's application.
    const registry = loadConfig({ env: landscape.env });
    expect(registry.clients?.basic(basic(own.review))).toEqual({ id: 'review', scopes: ['REVIEW'] });
    expect(registry.clients?.basic(basic(own['product-composite']))).toEqual({
      id: 'product-composite',
      scopes: ['PRODUCT-COMPOSITE'],
    });
    // The printed credential stays the all-applications one.
    expect(registry.writeAuth).toEqual({
      scheme: 'basic',
      user: 'registry',
      password: landscape.registryCredential?.secret,
    });
    for (const secret of secrets) expect(landscape.notes.join('\n')).not.toContain(secret);
  });

  it('leaves the registry clients to whoever set them, or set the registry URL', () => {
    for (const env of [
      { REGISTRY_CLIENTS: 'ops:ops-s3cret-all:*' },
      { EUREKA_CLIENT_SERVICEURL_DEFAULTZONE: 'http://elsewhere:8761/eureka/' },
    ]) {
      const landscape = landscapeEnv(env, {}, [], ['review']);
      expect(landscape.registryCredentials).toBeUndefined();
      expect(landscape.env.REGISTRY_CLIENTS).toBe(env.REGISTRY_CLIENTS);
    }
  });
});

describe('landscapeEnv: the auth server behind the gateway', () => {
  it('trusts the loopback gateway as a proxy, so callers through it keep their own source addresses', () => {
    expect(landscapeEnv({}, {}).env.AUTH_TRUSTED_PROXIES).toBe('127.0.0.1,::1');
    expect(landscapeEnv({ AUTH_TRUSTED_PROXIES: '10.0.0.1' }, {}).env.AUTH_TRUSTED_PROXIES).toBe('10.0.0.1');
  });

  it('hands the auth server and the gateway one proxy secret per run, never printed, so only the gateway counts as the proxy', () => {
    const first = landscapeEnv({}, {});
    const secret = first.env.AUTH_TRUSTED_PROXY_SECRET ?? '';
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(first.env.GATEWAY_PROXY_SECRET).toBe(secret);
    expect(first.notes.join('\n')).not.toContain(secret);
    expect(landscapeEnv({}, {}).env.AUTH_TRUSTED_PROXY_SECRET).not.toBe(secret);
    // One given for either side is used for both; both given are left as they are.
    const given = 'operator-chosen-proxy-secret';
    expect(landscapeEnv({ AUTH_TRUSTED_PROXY_SECRET: given }, {}).env.GATEWAY_PROXY_SECRET).toBe(given);
    expect(landscapeEnv({ GATEWAY_PROXY_SECRET: given }, {}).env.AUTH_TRUSTED_PROXY_SECRET).toBe(given);
    const both = landscapeEnv({ GATEWAY_PROXY_SECRET: given, AUTH_TRUSTED_PROXY_SECRET: `${given}-2` }, {}).env;
    expect([both.GATEWAY_PROXY_SECRET, both.AUTH_TRUSTED_PROXY_SECRET]).toEqual([given, `${given}-2`]);
  });
});

describe('landscapeEnv: config credentials', () => {
  it('gives each service that reads configuration a credential limited to its own application', async () => {
    const { parseClients } = await import('@trellis/config-server');
    const landscape = landscapeEnv({}, {}, ['product', 'product-composite', 'gateway']);
    const clients = parseClients(landscape.env.CONFIG_CLIENTS ?? '');
    expect(clients.map((c) => [c.id, c.applications])).toEqual([
      ['landscape', ['*']],
      ['product', ['product']],
      ['product-composite', ['product-composite']],
      ['gateway', ['gateway']],
    ]);
    expect(landscape.applicationCredentials?.product?.secret).toBe(clients[1]?.secret);
    // Only the `*` credential is printed: the services' own never leave the process.
    for (const c of clients.slice(1)) expect(landscape.notes.join('\n')).not.toContain(c.secret);
  });

  it('makes none when the services are given their config URI, or the config server its clients', () => {
    expect(landscapeEnv({ SPRING_CLOUD_CONFIG_URI: 'https://cfg:8888' }, {}, ['product']).applicationCredentials).toBe(
      undefined,
    );
    const given = landscapeEnv({ CONFIG_CLIENTS: 'ops:opssecret1:*' }, {}, ['product']);
    expect(given.applicationCredentials).toBe(undefined);
    expect(given.env.CONFIG_CLIENTS).toBe('ops:opssecret1:*');
  });
});

describe('exportsOf', () => {
  const auth: Running = {
    name: 'auth-server',
    endpoints: [],
    exports: { GATEWAY_INTROSPECTION_CLIENT_ID: 'gateway', GATEWAY_INTROSPECTION_CLIENT_SECRET: 'seeded' },
    stop: async () => {},
  };

  it("hands a component's exports to the ones after it", () => {
    expect(exportsOf(auth, {})).toEqual(auth.exports);
  });

  it('passes none of them when the user set one, so a chosen id is never paired with a seeded secret', () => {
    expect(exportsOf(auth, { GATEWAY_INTROSPECTION_CLIENT_ID: 'mine' })).toEqual({});
  });
});

describe('what the components offer, not their names, wires the landscape and makes the commands to try', () => {
  const running = (name: string, offers: Running['offers']): Running => ({
    name,
    endpoints: [],
    offers,
    stop: () => Promise.resolve(),
  });
  const reader = { id: 'reader', secret: 'r-s3cret', scope: 'openid offline_access product:read' };
  const writer = { id: 'writer', secret: 'w-s3cret', scope: 'openid offline_access product:read product:write' };
  const idp = running('idp', { authorizationServer: 'http://localhost:9999', developmentClients: [reader, writer] });
  const edge = running('edge', { entry: 'https://localhost:8443' });
  const api = running('api', { sampleApi: 'http://localhost:7000' });

  it('hands any component offering a role to the variables that role fills', () => {
    const landscape = landscapeEnv({}, {});
    expect(wiringFrom(idp, {}, landscape)).toEqual({
      AUTH_ISSUER: 'http://localhost:9999',
      GATEWAY_ISSUER: 'http://localhost:9999',
      AUTH_SERVER_URL: 'http://localhost:9999',
    });
    const config = wiringFrom(running('cfg', { configServer: 'https://localhost:8888' }), {}, landscape);
    expect(config.CONFIG_SERVER_URL).toBe('https://localhost:8888');
    expect(config.SPRING_CLOUD_CONFIG_URI).toBe(
      `https://landscape:${landscape.configCredential?.secret}@localhost:8888`,
    );
    // A component offering nothing hands nothing on, whatever it is called.
    expect(wiringFrom(running('registry', undefined), {}, landscape)).toEqual({});
  });

  it('asks a token of the client granted every scope the command uses, through the entry when one runs', () => {
    const ca = '/data/tls/ca.pem';
    expect(tryItLines([idp, edge, api], ca, { id: 'landscape', secret: 'c-s3cret' })).toEqual([
      'Try it:',
      `  TOKEN=$(curl -s --cacert ${ca} https://localhost:8443/oauth2/token -u writer:w-s3cret -d grant_type=client_credentials -d scope="product:read product:write" | jq -r .access_token)`,
      `  curl -s --cacert ${ca} https://localhost:8443/product-composite/1 -H "Authorization: Bearer $TOKEN" | jq .`,
      `  curl -s --cacert ${ca} https://localhost:8443/config/product/default -u landscape:c-s3cret | jq .propertySources[0].source`,
    ]);
    // Without an entry: the authorization server and the sample API themselves; with writer rotated away, reader.
    const alone = running('idp', { authorizationServer: 'http://localhost:9999', developmentClients: [reader] });
    expect(tryItLines([alone, api], ca)).toEqual([
      'Try it:',
      '  TOKEN=$(curl -s http://localhost:9999/oauth2/token -u reader:r-s3cret -d grant_type=client_credentials -d scope="product:read product:write" | jq -r .access_token)',
      '  curl -s http://localhost:7000/product-composite/1 -H "Authorization: Bearer $TOKEN" | jq .',
    ]);
    // Nothing to try without a development client, whatever the notes say.
    const noted = { ...running('auth-server', { authorizationServer: 'http://localhost:9999' }) };
    expect(
      tryItLines([{ ...noted, notes: ['auth-server: development client writer / w-s3cret (scope …)'] }], ca),
    ).toEqual([]);
  });
});

describe("landscapeFlags: each component's own flags on `trellis up`", () => {
  const components = [registryComponent, authServerComponent, gatewayComponent];

  it.each([
    [['--seed-dev-clients'], true],
    [['--seed-dev-clients=true'], true],
    [['--seed-dev-clients', 'true'], true],
    [['--no-seed-dev-clients'], false],
    [['--seed-dev-clients=false'], false],
    [['--seed-dev-clients', 'false'], false],
  ])('hands the auth server %j, which it reads over AUTH_SEED_DEV_CLIENTS as %s', (argv, seeded) => {
    const split = landscapeFlags(argv, components);
    const env = { AUTH_SEED_DEV_CLIENTS: String(!seeded) };
    expect(
      loadSettings(authServerComponent.settings, { argv: split.components['auth-server'], env }).seedDevClients,
    ).toBe(seeded);
    expect([split.up, split.components.registry, split.components.gateway]).toEqual([[], [], []]);
  });

  it('keeps its own flags and hands each other one to the component that declares it', () => {
    const split = landscapeFlags(
      ['--scale', 'review=2', '--http-only', '--no-allow-open-writes', '--data-dir', 'd', '--scale=product=2'],
      components,
    );
    expect(split.up).toEqual(['--data-dir=d', '--scale=review=2,product=2']);
    expect(split.components).toEqual({
      registry: ['--allow-open-writes=false'],
      'auth-server': [],
      gateway: ['--http-only=true'],
    });
  });

  it('refuses a flag several components declare, naming them, and a bad value before anything starts', () => {
    expect(() => landscapeFlags(['--port', '1'], components)).toThrow(
      '--port belongs to registry (REGISTRY_PORT), auth-server (AUTH_SERVER_PORT), gateway (GATEWAY_PORT) alike, so it cannot be given here: set the one meant by its variable',
    );
    expect(() => landscapeFlags(['--http-only', 'maybe'], components)).toThrow(
      'invalid --http-only: "maybe" is not true or false (also yes/no, on/off, 1/0)',
    );
  });
});
