// The failed-credential throttles hold across instances: two auth servers on one PostgreSQL database (or on one SQLite
// data dir, as --workers run) allow 10 wrong client secrets or passwords together, not 10 each.
import { freePort } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../../src/manage.ts';
import { addWebClient, openLoginForm, startServer, type TestServer } from '../helpers.ts';
import { addClient, postForm, postgresForThisFile, SHARED_KEY } from './helpers.ts';

const { dir, pg } = postgresForThisFile();

const USER = { username: 'alice', password: 'alice-password-1' };

/** Two instances of one issuer on one store: the PostgreSQL database, or the SQLite file in one data dir. */
const backends: [string, (dataDir: string) => Promise<string | undefined>][] = [
  ['one PostgreSQL database', () => pg().createDatabase(`throttle_${Date.now()}`)],
  ['one SQLite data dir', () => Promise.resolve(undefined)],
];

describe.each(backends)('the failure throttles on %s', (name, database) => {
  let servers: [TestServer, TestServer];
  let issuer: string;
  let secret: string;
  beforeAll(async () => {
    const dataDir = `${dir.path}/${name.replaceAll(' ', '-')}`;
    const databaseUrl = await database(dataDir);
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    const start = (argv: string[]) =>
      startServer({
        dataDir,
        argv: [
          ...(databaseUrl === undefined ? [] : ['--database-url', databaseUrl]),
          '--key-encryption-key',
          SHARED_KEY,
          '--issuer',
          issuer,
          '--seed-dev-clients',
          'false',
          ...argv,
        ],
      });
    servers = [await start(['--port', String(port)]), await start([])];
    secret = await addClient(servers[0], { client_id: 'batch', scope: 'product:read' });
    await addWebClient(servers[0]);
    await addUser({ dataDir, databaseUrl, keyEncryptionKey: SHARED_KEY }, USER);
  }, 60_000);
  afterAll(async () => {
    for (const s of servers ?? []) await s.running.stop();
  });

  it('10 wrong client secrets spread over both: the 11th is 429 on either, and so is the right secret', async () => {
    const token = (server: TestServer, presented: string) =>
      postForm(server.url, '/oauth2/token', { id: 'batch', secret: presented }, { grant_type: 'client_credentials' });
    for (let i = 0; i < 10; i++) {
      const res = await token(servers[i % 2] as TestServer, `wrong-${i}`);
      expect(res.status).toBe(401);
    }
    for (const server of servers) {
      const wrong = await token(server, 'wrong-again');
      expect(wrong.status).toBe(429);
      // The 30 s lockout of the 10th failure (README), not the 15-minute window: see throttle-shared.test.ts.
      const wait = Number(wrong.headers.get('retry-after'));
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(30);
      expect((await token(server, secret)).status).toBe(429);
    }
  });

  it('30 wrong secrets at once over both: no more than 10 are answered as wrong, the rest 429', async () => {
    await addClient(servers[1], { client_id: 'burst', scope: 'product:read' });
    const statuses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        postForm(
          (servers[i % 2] as TestServer).url,
          '/oauth2/token',
          { id: 'burst', secret: `wrong-${i}` },
          { grant_type: 'client_credentials' },
        ).then((res) => res.status),
      ),
    );
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([]);
  });

  it('10 wrong passwords spread over both: the 11th sign-in is 429 on either, and so is the right password', async () => {
    const post = async (server: TestServer, password: string): Promise<Response> => {
      const { action, csrf, cookies } = await openLoginForm(server.url, issuer);
      return fetch(action, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookies },
        body: new URLSearchParams({ csrf, username: USER.username, password }).toString(),
      });
    };
    for (let i = 0; i < 10; i++) {
      expect((await post(servers[i % 2] as TestServer, `wrong-password-${i}`)).status).toBe(401);
    }
    for (const server of servers) {
      expect((await post(server, 'wrong-password-again')).status).toBe(429);
      const right = await post(server, USER.password);
      expect(right.status).toBe(429);
      expect(await right.text()).toContain('too many failed attempts');
    }
  });
});
