// The auth server on PostgreSQL: client_credentials issuance against the same on SQLite, and two processes on one
// database against one.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgresServer } from '@trellis/kit/postgres-server';
import { load, median, startServer, type LoadOptions, type ServerProcess } from '../harness.ts';
import type { Scenario } from '../scenario.ts';
import { registerClient } from './security.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
const CONNECTIONS = 50;

/** POST /oauth2/token, client_credentials with client_secret_basic, as security.ts loads it. */
function tokenRequest(url: string, client: { id: string; secret: string }): LoadOptions {
  const basic = Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64');
  return {
    url: `${url}/oauth2/token`,
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=product%3Aread',
  };
}

/** Fails with the reason when the endpoint does not issue a JWT, instead of a column of non-2xx answers. */
async function checkIssues(request: LoadOptions): Promise<void> {
  const res = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body });
  const token = ((await res.json()) as { access_token?: string }).access_token;
  if (res.status !== 200 || token?.split('.').length !== 3) {
    throw new Error(`bench: ${request.url} answered ${res.status} without a JWT access token`);
  }
}

/** Loads every request at once, `connections` split between them (one wrk each); answers the summed req/s. */
async function loadTogether(requests: readonly LoadOptions[], warm: boolean): Promise<number> {
  const results = await Promise.all(
    requests.map((r) => load({ ...r, connections: Math.round(CONNECTIONS / requests.length), warm })),
  );
  for (const r of results) {
    if (r.errors > 0 || r.non2xx > 0) throw new Error(`bench: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
  }
  return results.reduce((sum, r) => sum + r.requestsPerSec, 0);
}

/**
 * Paired rounds of two setups, the first alternating so neither always meets the busier second: each setup's median
 * req/s and the median of the per-round ratios (a / b), with their spread.
 */
async function paired(a: () => Promise<number>, b: () => Promise<number>) {
  await a();
  await b();
  const as: number[] = [];
  const bs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  const ratios = as.map((v, i) => v / (bs[i] ?? NaN));
  return {
    a: median(as),
    b: median(bs),
    ratio: median(ratios),
    spread: `ratio over ${ROUNDS} rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`,
  };
}

/**
 * The auth server as `trellis auth-server --database-url postgres://…` runs it, on a throwaway PostgreSQL cluster
 * (Debian's postgresql, default settings) on the same machine. Issuance reads the client once per request (a primary
 * key lookup) and writes nothing (JWT access tokens are not stored), so PostgreSQL costs one round trip and the
 * driver's parsing against SQLite's in-process read; both sides sign RS256.
 */
export const authPostgres: Scenario = {
  name: 'auth-postgres',
  async run({ figure }) {
    const pg = await startPostgresServer();
    const dataDir = await mkdtemp(join(tmpdir(), 'bench-auth-pg-'));
    const servers: ServerProcess[] = [];
    const start = async (env: NodeJS.ProcessEnv): Promise<ServerProcess> => {
      const server = await startServer('auth-server.ts', [dataDir], env);
      servers.push(server);
      return server;
    };
    try {
      const registrationToken = randomBytes(24).toString('base64url');
      const databaseUrl = await pg.createDatabase('bench_auth');
      const shared = {
        AUTH_REGISTRATION_TOKEN: registrationToken,
        TRELLIS_DATABASE_URL: databaseUrl,
        AUTH_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64url'),
        AUTH_ISSUER: 'http://auth.bench.localhost',
      };
      const sqlite = await start({ AUTH_REGISTRATION_TOKEN: registrationToken });
      const onPg = await start(shared);
      const sqliteRequest = tokenRequest(sqlite.url, await registerClient(sqlite.url, registrationToken));
      const client = await registerClient(onPg.url, registrationToken);
      const pgRequest = tokenRequest(onPg.url, client);
      await checkIssues(sqliteRequest);
      await checkIssues(pgRequest);

      const one = await paired(
        () => loadTogether([pgRequest], true),
        () => loadTogether([sqliteRequest], true),
      );
      figure('client_credentials issuance, PostgreSQL / SQLite (one process)', one.ratio, 'ratio', {
        min: 0.8,
        note: `${Math.round(one.a)} vs ${Math.round(one.b)} req/s; RS256, client_secret_basic, logs at info; ${one.spread}`,
      });

      // The SQLite server leaves the cores to the two PostgreSQL instances.
      await sqlite.stop();
      servers.splice(servers.indexOf(sqlite), 1);
      const second = await start(shared);
      const secondRequest = tokenRequest(second.url, client);
      await checkIssues(secondRequest);
      const two = await paired(
        () => loadTogether([pgRequest, secondRequest], true),
        () => loadTogether([pgRequest], true),
      );
      const cores = availableParallelism();
      figure('client_credentials issuance, two processes / one on one PostgreSQL database', two.ratio, 'ratio', {
        note:
          `${Math.round(two.a)} vs ${Math.round(two.b)} req/s; ${cores} cores shared by both processes, PostgreSQL and ` +
          `the load generator (one wrk per process, ${CONNECTIONS / 2} connections each): close to 2 only with a ` +
          `core per process to spare; ${two.spread}`,
      });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await pg.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
