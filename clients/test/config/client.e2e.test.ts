import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigClient, fetchRemoteConfig, type ConfigChange } from '../../src/config/client.ts';
import { ConfigClientError } from '../../src/config/errors.ts';
import { configHealthIndicator } from '../../src/config/health.ts';
import { Secret } from '../../src/config/secret.ts';
import type { Running } from '@trellis/kit';
import { ManualClock } from '../discovery/helpers.ts';
import { captureLogger } from '../../../kit/test/support/logger.ts';
import { silentLogger, startConfigServer, tempDir } from './helpers.ts';
import { freePort } from '../../../kit/src/free-port.ts';

interface Vectors {
  symmetric: { vectors: { key: string; plaintext: string; cipherProperty: string }[] };
}
const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../../shared/interop/spring-cipher-vectors.json'), 'utf8'),
) as Vectors;
const sym = vectors.symmetric.vectors[0];
if (sym === undefined) throw new Error('symmetric vector missing');

const repo = tempDir({
  'application.yml': 'shared: from-application\nonly.app: yes\nserver:\n  port: 8080\nhosts:\n  - a1\n  - a2\n  - a3\n',
  'application-docker.yml': 'shared: from-application-docker\nserver:\n  port: 9000\n',
  'product.yml': `shared: from-product\nproduct.only: 1\ndb:\n  password: '${sym.cipherProperty}'\n`,
  'product-docker.yml': `mongo:\n  host: mongodb\n  port: 27017\nhosts:\n  - p1\ngreeting: '${sym.cipherProperty}'\n`,
  'review.yml': 'review.only: true\n',
  'feature/x/product.yml': 'shared: from-feature-x\n',
});
const data = tempDir();
const env = { ENCRYPT_KEY: sym.key };
let open: { running: Running; url: string; caFile: string };
let secured: { running: Running; url: string; caFile: string };

beforeAll(async () => {
  open = await startConfigServer({ repo: repo.root, dataDir: data.root, env });
  secured = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env: { ...env, CONFIG_CLIENTS: 'product:product-secret:product;ops:ops-token-1:*' },
  });
});
afterAll(async () => {
  await Promise.all([open.running.stop(), secured.running.stop()]);
  repo.remove();
  data.remove();
});

/** A loopback port with nothing listening on it (yet). */
async function rejection(promise: Promise<unknown>): Promise<ConfigClientError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigClientError) return err;
    throw err;
  }
  throw new Error('expected a ConfigClientError');
}

describe('fetchRemoteConfig over HTTPS', () => {
  it('fetches trusting the local CA and merges sources in the server order', async () => {
    const config = await fetchRemoteConfig({
      uri: open.url,
      name: 'product',
      profiles: 'docker',
      caFile: open.caFile,
      logger: silentLogger(),
    });
    expect(config.propertySources.map((n) => n.replace(/^.*\//, ''))).toEqual([
      'product-docker.yml',
      'application-docker.yml',
      'product.yml',
      'application.yml',
    ]);
    expect(config.getString('shared')).toBe('from-application-docker');
    expect(config.getNumber('server.port')).toBe(9000);
    expect(config.getNumber('mongo.port')).toBe(27017);
    expect(config.getBoolean('only.app')).toBe(true);
    expect(config.getNumber('product.only')).toBe(1);
    // The profile's one-element list replaces application.yml's three, as Spring Boot binds it.
    expect(config.getList('hosts')).toEqual(['p1']);
    expect(config.getString('missing', 'default')).toBe('default');
    expect(() => config.getString('review.only')).toThrow(/required configuration key review\.only/);
  });

  it('sends a label with a slash the Spring way', async () => {
    const config = await fetchRemoteConfig({
      uri: open.url,
      name: 'product',
      label: 'feature/x',
      ca: readFileSync(open.caFile, 'utf8'),
      logger: silentLogger(),
    });
    expect(config.getString('shared')).toBe('from-feature-x');
    expect(config.label).toBe('feature/x');
  });

  it('refuses a server whose CA it does not trust, at once and with the reason', async () => {
    const started = performance.now();
    const err = await rejection(fetchRemoteConfig({ uri: open.url, name: 'product', logger: silentLogger() }));
    expect(err.code).toBe('untrusted_certificate');
    expect(err.message).toContain(`config server ${open.url} is not trusted`);
    expect(err.message).toMatch(/caFile/);
    // Not retried: no attempt could change the answer.
    expect(performance.now() - started).toBeLessThan(900);
  });

  it('receives {cipher} values decrypted and wraps secret-named ones, keeping them out of the logs', async () => {
    const capture = captureLogger();
    const config = await fetchRemoteConfig({
      uri: open.url,
      name: 'product',
      profiles: ['docker'],
      caFile: open.caFile,
      secretKeys: ['greeting'],
      logger: capture.logger,
    });
    const password = config.get('db.password');
    expect(password).toBeInstanceOf(Secret);
    expect(config.getSecret('db.password').reveal()).toBe(sym.plaintext);
    expect(config.get('greeting')).toBeInstanceOf(Secret);
    expect(config.getSecret('greeting').reveal()).toBe(sym.plaintext);
    capture.logger.info({ config }, 'configuration');
    expect(capture.text()).toContain('loaded configuration');
    expect(capture.text()).toContain('mongodb');
    expect(capture.text()).not.toContain(sym.plaintext);

    // Without secretKeys too: our server says which values it decrypted, so a neutral name is no way out.
    const marked = captureLogger();
    const told = await fetchRemoteConfig({
      uri: open.url,
      name: 'product',
      profiles: 'docker',
      caFile: open.caFile,
      logger: marked.logger,
    });
    expect(told.get('greeting')).toBeInstanceOf(Secret);
    expect(told.getSecret('greeting').reveal()).toBe(sym.plaintext);
    expect(() => told.getString('greeting')).toThrow(/greeting is a secret/);
    // Values that were never {cipher} values stay plain.
    expect(told.getString('mongo.host')).toBe('mongodb');
    marked.logger.info({ config: told, json: JSON.stringify(told) }, 'configuration');
    expect(marked.text()).not.toContain(sym.plaintext);
  });

  it('falls back to the key-name rule against a server that does not say what it decrypted (Spring)', async () => {
    // What a Spring config server answers: the decrypted Environment JSON and no x-trellis-decrypted header.
    const springBody = JSON.stringify({
      name: 'product',
      profiles: ['docker'],
      label: null,
      version: null,
      state: null,
      propertySources: [{ name: 'file:repo/product-docker.yml', source: { greeting: 'hi', 'db.password': 'pw' } }],
    });
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(springBody);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const foreign = await fetchRemoteConfig({
        uri: `http://127.0.0.1:${port}`,
        name: 'product',
        logger: silentLogger(),
      });
      expect(foreign.get('greeting')).toBe('hi');
      expect(foreign.get('db.password')).toBeInstanceOf(Secret);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('credentials', () => {
  const base = () => ({ uri: secured.url, caFile: secured.caFile, logger: silentLogger() });

  it('reads with Basic, bearer and X-Config-Token credentials', async () => {
    const basic = await fetchRemoteConfig({
      ...base(),
      name: 'product',
      credentials: { username: 'product', password: 'product-secret' },
    });
    expect(basic.getNumber('product.only')).toBe(1);
    const bearer = await fetchRemoteConfig({ ...base(), name: 'review', credentials: { token: () => 'ops-token-1' } });
    expect(bearer.getBoolean('review.only')).toBe(true);
    const token = await fetchRemoteConfig({ ...base(), name: 'review', credentials: { configToken: 'ops-token-1' } });
    expect(token.getBoolean('review.only')).toBe(true);
    const userInfo = secured.url.replace('https://', 'https://product:product-secret@');
    expect((await fetchRemoteConfig({ ...base(), uri: userInfo, name: 'product' })).getNumber('product.only')).toBe(1);
  });

  it('names 401 without credentials and 403 for another application, without retrying', async () => {
    const started = performance.now();
    const unauthorized = await rejection(fetchRemoteConfig({ ...base(), name: 'product' }));
    expect(unauthorized.code).toBe('unauthorized');
    expect(unauthorized.message).toContain(`config server ${secured.url} answered HTTP 401`);
    expect(unauthorized.message).toContain('Full authentication is required');

    const forbidden = await rejection(
      fetchRemoteConfig({
        ...base(),
        name: 'review',
        credentials: { username: 'product', password: 'product-secret' },
      }),
    );
    expect(forbidden.code).toBe('forbidden');
    expect(forbidden.message).toContain('HTTP 403');
    expect(forbidden.message).toContain('client product may not read review');
    expect(forbidden.message).not.toContain('product-secret');
    expect(performance.now() - started).toBeLessThan(900);
  });
});

describe('fail-fast retry', () => {
  it("waits Spring's default intervals and succeeds once a late server comes up", async () => {
    const port = await freePort();
    const clock = new ManualClock();
    const capture = captureLogger();
    const loading = fetchRemoteConfig({
      uri: `https://localhost:${port}`,
      name: 'product',
      caFile: open.caFile,
      clock,
      logger: capture.logger,
    });
    // Attempts 1-3 are refused; the waits are 1000 × 1.1^n, capped at 2000.
    expect(await clock.fireNext()).toBe(1000);
    expect(await clock.fireNext()).toBeCloseTo(1100, 6);
    let late: Running | undefined;
    try {
      // Bring the server up while the third wait is pending.
      const deadline = Date.now() + 3000;
      while (clock.pending().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      expect(clock.pending()[0]).toBeCloseTo(1210, 6);
      late = (await startConfigServer({ repo: repo.root, dataDir: data.root, port, env })).running;
      clock.advance(1210);
      const config = await loading;
      expect(config.getString('shared')).toBe('from-product');
      const retries = capture.lines.filter((l) => l.msg === 'config server not available yet; retrying');
      expect(retries.map((l) => l['attempt'])).toEqual([1, 2, 3]);
      expect(String(retries[0]?.['reason'])).toContain('connection refused');
    } finally {
      await late?.stop();
    }
  });

  it('gives up after maxAttempts with the server URL and the reason', async () => {
    const port = await freePort();
    const started = performance.now();
    const err = await rejection(
      fetchRemoteConfig({
        uri: `https://localhost:${port}`,
        name: 'product',
        profiles: ['docker'],
        caFile: open.caFile,
        retry: { initialIntervalMs: 40, multiplier: 2, maxIntervalMs: 100, maxAttempts: 4 },
        logger: silentLogger(),
      }),
    );
    const elapsed = performance.now() - started;
    expect(err.code).toBe('unreachable');
    expect(err.message).toBe(
      `could not load configuration product/docker after 4 attempts: config server https://localhost:${port} is unreachable: connection refused (ECONNREFUSED)`,
    );
    // 40 + 80 + 100 (capped) ms of waiting between the four attempts.
    expect(elapsed).toBeGreaterThanOrEqual(215);
    expect(elapsed).toBeLessThan(2000);
  });

  it('starts empty without failFast and reports it in health', async () => {
    const port = await freePort();
    const client = await createConfigClient({
      uri: `https://localhost:${port}`,
      name: 'product',
      caFile: open.caFile,
      failFast: false,
      watch: false,
      logger: silentLogger(),
    });
    try {
      expect(client.keys()).toEqual([]);
      expect(client.getNumber('server.port', 7001)).toBe(7001);
      const health = configHealthIndicator(client)();
      expect(health).toMatchObject({ status: 'UNKNOWN', details: { reason: 'no configuration loaded yet' } });
    } finally {
      await client.close();
    }
  });
});

describe('watch and refresh', () => {
  const watched = tempDir({
    'application.yml': 'shared: a\n',
    'inventory.yml': 'port: 7001\nname: inventory\nold: x\n',
  });
  let server: { running: Running; url: string; caFile: string };
  let port: number;
  beforeAll(async () => {
    server = await startConfigServer({ repo: watched.root, dataDir: data.root, env });
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await server.running.stop();
    watched.remove();
  });

  function nextChange(client: { subscribe(l: (c: ConfigChange) => void): () => void }, timeoutMs = 3000) {
    return new Promise<{ change: ConfigChange; at: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no change heard')), timeoutMs);
      const off = client.subscribe((change) => {
        clearTimeout(timer);
        off();
        resolve({ change, at: performance.now() });
      });
    });
  }

  it('tells subscribers which keys changed within 200 ms of an edit, and keeps the last good values when the server goes', async () => {
    const client = await createConfigClient({
      uri: server.url,
      name: 'inventory',
      caFile: server.caFile,
      retry: { initialIntervalMs: 50 },
      logger: silentLogger(),
    });
    const health = configHealthIndicator(client);
    try {
      const waitConnected = Date.now() + 3000;
      while (client.status().watch !== 'connected' && Date.now() < waitConnected)
        await new Promise((r) => setTimeout(r, 5));
      expect(client.status().watch).toBe('connected');
      const first = health();
      expect(first.status).toBe('UP');
      expect(first.details?.['version']).toBe(client.current.version);
      expect(first.details?.['propertySources']).toHaveLength(2);

      const heard = nextChange(client);
      const written = performance.now();
      watched.write('inventory.yml', 'port: 7010\nname: inventory\nadded: y\n');
      const { change, at } = await heard;
      expect(at - written).toBeLessThan(200);
      expect(change).toMatchObject({ added: ['added'], removed: ['old'], changed: ['port'] });
      expect(change.keys).toEqual(['added', 'old', 'port']);
      expect(client.getNumber('port')).toBe(7010);
      expect(change.previous.getNumber('port')).toBe(7001);

      // The server goes away: a refresh fails, the values stay, health says so without going DOWN.
      await server.running.stop();
      await expect(client.refresh()).rejects.toThrow(/unreachable/);
      expect(client.getNumber('port')).toBe(7010);
      const stale = health();
      expect(stale.status).toBe('UNKNOWN');
      expect(stale.details?.['reason']).toBe('last refresh failed; serving the last good configuration');
      expect(String(stale.details?.['error'])).toContain('connection refused');

      // An edit while it is down reaches the subscriber once it is back (reconnect, then the version differs).
      watched.write('application.yml', 'shared: b\n');
      const back = nextChange(client, 8000);
      server = await startConfigServer({ repo: watched.root, dataDir: data.root, port, env });
      const { change: missed } = await back;
      expect(missed.changed).toEqual(['shared']);
      expect(health().status).toBe('UP');
    } finally {
      await client.close();
    }
  });
});

describe('a watch stream the server refuses (every slot taken)', () => {
  const busy = tempDir({ 'inventory.yml': 'port: 7001\n' });
  let server: { running: Running; url: string; caFile: string };
  beforeAll(async () => {
    server = await startConfigServer({
      repo: busy.root,
      dataDir: data.root,
      env: { ...env, CONFIG_WATCH_MAX_STREAMS: '1' },
    });
  });
  afterAll(async () => {
    await server.running.stop();
    busy.remove();
  });

  async function until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it("waits the server's Retry-After, polls meanwhile so no change is missed, then takes the stream", async () => {
    const options = { uri: server.url, name: 'inventory', caFile: server.caFile, logger: silentLogger() };
    const holder = await createConfigClient(options);
    const clock = new ManualClock();
    const capture = captureLogger();
    let refused: Awaited<ReturnType<typeof createConfigClient>> | undefined;
    try {
      await until(() => holder.status().watch === 'connected', 'the first client to hold the only slot');
      refused = await createConfigClient({ ...options, clock, logger: capture.logger });
      const client = refused;
      await until(() => client.status().watch === 'polling', 'the refusal');
      // The server's Retry-After (30 s), not an immediate retry or a short backoff.
      await until(() => clock.pending().length > 0, 'the wait');
      expect(clock.pending()).toEqual([30_000]);
      expect(capture.lines.filter((l) => l.msg === 'config watch stream lost; reconnecting')).toEqual([]);

      // A change while refused arrives with the poll.
      busy.write('inventory.yml', 'port: 7002\n');
      const heard = new Promise<readonly string[]>((resolve) => client.subscribe((c) => resolve(c.keys)));
      clock.advance(30_000);
      expect(await heard).toEqual(['port']);
      expect(client.getNumber('port')).toBe(7002);

      // Once the slot is free, the next attempt takes the stream.
      await holder.close();
      await until(() => clock.pending().length > 0, 'the next wait');
      clock.advance(clock.pending()[0] ?? 0);
      await until(() => client.status().watch === 'connected', 'the stream');
    } finally {
      await refused?.close();
      await holder.close();
    }
  });
});
