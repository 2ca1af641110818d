// The auth server on PostgreSQL: client_credentials issuance against the same on SQLite, and two processes on one
// database against one.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgresServer } from '@trellis/kit/postgres-server';
import { load, median, startServer, type LoadOptions, type ServerProcess } from '../harness.ts';
import type { Scenario } from '../scenario.ts';
import { registerClient } from './security.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');
const CONNECTIONS = 50;
/** Linux's USER_HZ: /proc counts CPU time in these. */
const CLOCK_TICKS = 100;

/** POST /oauth2/token, client_credentials with client_secret_basic, as security.ts loads it. */
export function tokenRequest(url: string, client: { id: string; secret: string }): LoadOptions {
  const basic = Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString('base64');
  return {
    url: `${url}/oauth2/token`,
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=product%3Aread',
  };
}

/** Fails with the reason when the endpoint does not issue a JWT, instead of a column of non-2xx answers. */
export async function checkIssues(request: LoadOptions): Promise<void> {
  const res = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body });
  const token = ((await res.json()) as { access_token?: string }).access_token;
  if (res.status !== 200 || token?.split('.').length !== 3) {
    throw new Error(`bench: ${request.url} answered ${res.status} without a JWT access token`);
  }
}

/** CPU seconds a process has used (user + system), from /proc. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0; // gone meanwhile (a PostgreSQL backend whose connection closed)
  }
}

/** The postmaster and its children (a backend per pooled connection, the writer, the WAL writer…). */
async function postgresPids(dir: string): Promise<number[]> {
  const postmaster = Number((await readFile(join(dir, 'data', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster) children.push(Number(entry));
    } catch {
      // exited while listed
    }
  }
  return [postmaster, ...children];
}

/** Busy CPU seconds of the whole machine (every core, everything on it), from /proc/stat. */
export async function machineBusySeconds(): Promise<number> {
  const [, ...ticks] = ((await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '').split(/\s+/).filter(Boolean);
  const n = ticks.map(Number);
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  return (n.reduce((a, b) => a + b, 0) - idle) / CLOCK_TICKS;
}

interface Sample {
  readonly rps: number;
  /** Cores busy on average during the load: each auth server, PostgreSQL, the whole machine. */
  readonly cores: { readonly auth: readonly number[]; readonly postgres: number; readonly machine: number };
}

/**
 * Loads each request at once against its server, `CONNECTIONS` split between them (one wrk each); answers the summed
 * req/s and how many cores each party kept busy meanwhile.
 */
async function loadTogether(targets: readonly { request: LoadOptions; pid: number }[], pgDir: string): Promise<Sample> {
  const pgPids = await postgresPids(pgDir);
  const sum = async (pids: readonly number[]) => (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
  const before = {
    auth: await Promise.all(targets.map((t) => cpuSeconds(t.pid))),
    postgres: await sum(pgPids),
    machine: await machineBusySeconds(),
    at: performance.now(),
  };
  const results = await Promise.all(
    targets.map((t) => load({ ...t.request, connections: Math.round(CONNECTIONS / targets.length), warm: true })),
  );
  const seconds = (performance.now() - before.at) / 1000;
  const pgAfter = await sum([...new Set([...pgPids, ...(await postgresPids(pgDir))])]);
  const cores = {
    auth: await Promise.all(targets.map(async (t, i) => ((await cpuSeconds(t.pid)) - (before.auth[i] ?? 0)) / seconds)),
    postgres: (pgAfter - before.postgres) / seconds,
    machine: ((await machineBusySeconds()) - before.machine) / seconds,
  };
  for (const r of results) {
    if (r.errors > 0 || r.non2xx > 0) throw new Error(`bench: ${r.errors} errors, ${r.non2xx} non-2xx answers`);
  }
  return { rps: results.reduce((total, r) => total + r.requestsPerSec, 0), cores };
}

/**
 * Paired rounds of two setups, the first alternating so neither always meets the busier second: each setup's median
 * req/s, the median of the per-round ratios (a / b) with their spread, and each side's last CPU sample.
 */
async function paired(a: () => Promise<Sample>, b: () => Promise<Sample>) {
  await a();
  await b();
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      as.push(await a());
      bs.push(await b());
    } else {
      bs.push(await b());
      as.push(await a());
    }
  }
  const ratios = as.map((v, i) => v.rps / (bs[i]?.rps ?? NaN));
  return {
    a: median(as.map((s) => s.rps)),
    b: median(bs.map((s) => s.rps)),
    aCores: as.at(-1)?.cores,
    bCores: bs.at(-1)?.cores,
    ratio: median(ratios),
    spread: `ratio over ${ROUNDS} rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`,
  };
}

/** "auth 0.95 + 0.93, PostgreSQL 0.21, machine 1.98 of 2 cores busy" */
function coresText(cores: Sample['cores'] | undefined, total: number): string {
  if (cores === undefined) return '';
  const f = (n: number) => n.toFixed(2);
  return `auth ${cores.auth.map(f).join(' + ')}, PostgreSQL ${f(cores.postgres)}, machine ${f(cores.machine)} of ${total} cores busy`;
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

      const cores = availableParallelism();
      const one = await paired(
        () => loadTogether([{ request: pgRequest, pid: onPg.pid }], pg.dir),
        () => loadTogether([{ request: sqliteRequest, pid: sqlite.pid }], pg.dir),
      );
      figure('client_credentials issuance, PostgreSQL / SQLite (one process)', one.ratio, 'ratio', {
        min: 0.8,
        note:
          `${Math.round(one.a)} vs ${Math.round(one.b)} req/s; RS256, client_secret_basic, logs at info; ${one.spread}; ` +
          `on PostgreSQL ${coresText(one.aCores, cores)}`,
      });

      // The SQLite server leaves the cores to the two PostgreSQL instances.
      await sqlite.stop();
      servers.splice(servers.indexOf(sqlite), 1);
      const second = await start(shared);
      const secondRequest = tokenRequest(second.url, client);
      await checkIssues(secondRequest);
      const two = await paired(
        () =>
          loadTogether(
            [
              { request: pgRequest, pid: onPg.pid },
              { request: secondRequest, pid: second.pid },
            ],
            pg.dir,
          ),
        () => loadTogether([{ request: pgRequest, pid: onPg.pid }], pg.dir),
      );
      figure('client_credentials issuance, two processes / one on one PostgreSQL database', two.ratio, 'ratio', {
        note:
          `${Math.round(two.a)} vs ${Math.round(two.b)} req/s; ${two.spread}; one process: ${coresText(two.bCores, cores)}; ` +
          `two: ${coresText(two.aCores, cores)} (the load generator, one wrk per process, takes the rest): ` +
          'close to 2 only when the machine has the cores one process keeps busy to spare again (its RS256 ' +
          "signatures run on libuv's thread pool beside the event loop)",
      });
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
      await pg.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  },
};
