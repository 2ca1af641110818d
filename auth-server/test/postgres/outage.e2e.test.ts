// The database stopped under load and started again: clean 503s meanwhile, recovery after, nothing acknowledged lost;
// and a server whose database cannot be reached refuses to start, saying so without the password.
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, loadSettings } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { authServerComponent } from '../../src/main.ts';
import { capturingLogger, silentLogger, tempDir, type TestServer } from '../helpers.ts';
import {
  addClient,
  introspect,
  postForm,
  SHARED_KEY,
  startInstances,
  startPostgresServer,
  type PostgresServer,
} from './helpers.ts';

const dir = tempDir();
let pg: PostgresServer;
let databaseUrl: string;
let servers: TestServer[];
let batch: { id: string; secret: string };
const logs = capturingLogger();

beforeAll(async () => {
  pg = await startPostgresServer();
  databaseUrl = await pg.createDatabase('outage');
  ({ servers } = await startInstances(databaseUrl, dir.path, 2, ['--health-show-details', 'always'], logs.logger));
  batch = { id: 'batch', secret: await addClient(servers[0] as TestServer, { client_id: 'batch' }) };
}, 60_000);
afterAll(async () => {
  for (const s of servers ?? []) await s.running.stop();
  await pg?.close();
  dir.remove();
});

interface Outcome {
  readonly kind: 'client' | 'token';
  readonly status: number;
  readonly body: string;
  readonly id: string;
}

describe('the database restarted under load', () => {
  // stop: a fast shutdown (connections ended, open transactions rolled back); kill: SIGKILL, recovery from the WAL.
  it.each(['stop', 'kill'] as const)(
    'answers 503 with a reason while it is down (%s), recovers when it is back, and loses nothing it acknowledged',
    async (how) => {
      const password = new URL(databaseUrl).password;
      const outcomes: Outcome[] = [];
      const thrown: unknown[] = [];
      let running = true;
      let n = 0;
      const worker = async (w: number): Promise<void> => {
        while (running) {
          const server = servers[(n + w) % servers.length] as TestServer;
          const id = `load-${how}-${w}-${n++}`;
          try {
            if (n % 2 === 0) {
              const res = await server.admin('POST', '/admin/clients', { client_id: id });
              if (res.status === 503 && res.headers.get('retry-after') === null)
                throw new Error('503 without Retry-After');
              outcomes.push({ kind: 'client', status: res.status, body: await res.text(), id });
            } else {
              const res = await postForm(server.url, '/oauth2/token', batch, {
                grant_type: 'client_credentials',
                scope: 'openid',
              });
              const body = await res.text();
              const token = res.status === 200 ? (JSON.parse(body) as { access_token: string }).access_token : '';
              if (res.status === 503 && res.headers.get('retry-after') === null)
                throw new Error('503 without Retry-After');
              outcomes.push({ kind: 'token', status: res.status, body, id: token });
            }
          } catch (err) {
            thrown.push(err);
          }
        }
      };
      const workers = [0, 1, 2, 3].map(worker);
      await sleep(400);
      await (how === 'stop' ? pg.stop() : pg.kill());
      await sleep(300);
      const health = await fetch(`${servers[1]?.url}/actuator/health`);
      const healthText = await health.text();
      expect(health.status).toBe(503);
      expect(JSON.parse(healthText)).toMatchObject({
        components: {
          authStore: {
            status: 'DOWN',
            details: { database: 'PostgreSQL', error: expect.stringMatching(/^unreachable \(/) as unknown },
          },
        },
      });
      expect(healthText).not.toContain(password);
      await sleep(1000);
      const downUntil = outcomes.length;
      await pg.start();
      // Served again: each instance answers a token request once the pool has reconnected.
      for (const s of servers) {
        await expect
          .poll(
            async () => (await postForm(s.url, '/oauth2/token', batch, { grant_type: 'client_credentials' })).status,
            {
              timeout: 10_000,
              interval: 100,
            },
          )
          .toBe(200);
      }
      await sleep(300);
      running = false;
      await Promise.all(workers);

      expect(thrown).toEqual([]);
      const failed = outcomes.filter((o) => o.status !== 200 && o.status !== 201);
      expect(failed.length).toBeGreaterThan(0);
      for (const f of failed) {
        expect(f.status).toBe(503);
        expect(JSON.parse(f.body)).toMatchObject({ error: 'temporarily_unavailable' });
        for (const secret of [password, 'postgres://', 'ECONNREFUSED', ' at ']) expect(f.body).not.toContain(secret);
      }
      expect(outcomes.slice(downUntil).filter((o) => o.status < 300).length).toBeGreaterThan(0);
      // The servers logged the outage (trace level) without the database's password.
      expect(logs.text()).toContain('temporarily_unavailable');
      expect(logs.text()).not.toContain(password);

      // Every acknowledged client is there, at both; every acknowledged token is still active.
      const acknowledged = outcomes.filter((o) => o.kind === 'client' && o.status === 201).map((o) => o.id);
      expect(acknowledged.length).toBeGreaterThan(5);
      for (const s of servers) {
        const listed = ((await (await s.admin('GET', '/admin/clients')).json()) as { client_id: string }[]).map(
          (c) => c.client_id,
        );
        expect(listed).toEqual(expect.arrayContaining(acknowledged));
      }
      const tokens = outcomes.filter((o) => o.kind === 'token' && o.status === 200).map((o) => o.id);
      for (const token of tokens.slice(-40)) {
        expect((await introspect(servers[1]?.url ?? '', batch, token)).active).toBe(true);
      }
    },
    45_000,
  );

  it('listens for key rotations again after the restart', async () => {
    const [a, b] = servers as [TestServer, TestServer];
    const rotated = await a.admin('POST', '/admin/keys/rotate');
    expect(rotated.status).toBe(201);
    const { kid } = (await rotated.json()) as { kid: string };
    await expect
      .poll(
        async () => ((await (await fetch(`${b.url}/oauth2/jwks`)).json()) as { keys: { kid: string }[] }).keys[0]?.kid,
        { timeout: 5000, interval: 50 },
      )
      .toBe(kid);
  });

  it('refuses to start when the database cannot be reached, naming it without the password', async () => {
    const port = await freePort();
    const url = `postgres://trellis:not-this-password@127.0.0.1:${port}/trellis`;
    const settings = loadSettings(authServerComponent.settings, {
      argv: ['--port', '0', '--host', '127.0.0.1', '--database-url', url, '--key-encryption-key', SHARED_KEY],
      env: {},
    });
    const failure = await authServerComponent
      .start(settings, { logger: silentLogger(), env: {} })
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    const message = (failure as Error).message;
    expect(message).toContain(`auth database postgres://trellis@127.0.0.1:${port}/trellis`);
    expect(message).toContain('cannot reach it');
    expect(message).not.toContain('not-this-password');
  });

  it('refuses a database URL that is not PostgreSQL, without repeating it', () => {
    const load = () => loadConfig({ TRELLIS_DATABASE_URL: 'mysql://u:pw-secret@h/db' });
    expect(load).toThrow(/--database-url \(TRELLIS_DATABASE_URL\): only postgres:\/\/ or postgresql:\/\//);
    expect(load).not.toThrow(/pw-secret/);
  });
});
