// A throwaway PostgreSQL cluster on loopback for the tests and the bench: initdb into a temporary directory, the
// postgres binary from Debian's package, a random password, and stop, crash and restart on the same data.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { StartupError } from '../errors.ts';
import { freePort } from '../free-port.ts';
import { keepOutput, own, untilReady } from '../owned-process.ts';
import { postgresDriver } from '../postgres.ts';

export interface PostgresServerOptions {
  /** Default: a free port. */
  readonly port?: number;
  /** Where the cluster lives; default a new temporary directory, deleted by `close()`. */
  readonly dir?: string;
  /** Receives each line the server prints. Default: kept back, and the last lines given in a start-up error. */
  readonly log?: (line: string) => void;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Readonly<Record<string, string>>;
}

export interface PostgresServer {
  /** `postgres://trellis:<password>@127.0.0.1:<port>/trellis`. */
  readonly url: string;
  readonly port: number;
  /** The cluster's directory (its data is in `<dir>/data`). */
  readonly dir: string;
  /** A new empty database on this server, answered as its URL: one per test keeps tests apart. */
  createDatabase(name: string): Promise<string>;
  /** A fast shutdown: open transactions roll back, connections end. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster, as a crash; `start()` then recovers from the write-ahead log. */
  kill(): Promise<void>;
  /** Starts again on the same port and data. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes a directory it made. */
  close(): Promise<void>;
}

const USER = 'trellis';
const DATABASE = 'trellis';
const START_TIMEOUT_MS = 30_000;

/**
 * `initdb`, `pg_ctl` or `postgres`: from PATH, else from the newest `/usr/lib/postgresql/<version>/bin`, where
 * Debian puts them without linking them onto PATH.
 */
export function findPostgresBin(program: 'initdb' | 'pg_ctl' | 'postgres'): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, program))) return join(dir, program);
  }
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const path = join(root, version, 'bin', program);
    if (existsSync(path)) return path;
  }
  return undefined;
}

function required(program: 'initdb' | 'postgres'): string {
  const path = findPostgresBin(program);
  if (path === undefined) {
    throw new StartupError(
      `${program} not found: install PostgreSQL (sudo apt-get install -y postgresql) or run npm test once`,
    );
  }
  return path;
}

/** PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user (or `nobody`). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    if (uid.status === 0 && gid.status === 0) return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new StartupError('running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as');
}

async function answers(url: string): Promise<boolean> {
  const client = new (postgresDriver().Client)({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Makes a cluster with `initdb` (a `trellis` superuser with a random password, SCRAM authentication, TCP on
 * 127.0.0.1 only, no Unix socket) and starts it; resolves once it answers a query. The server dies with this
 * process should it end without `close()`.
 *
 * @example
 * const db = await startPostgresServer();
 * const url = await db.createDatabase('two_auth_servers');
 * await db.restart();
 * await db.close();
 */
export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const initdb = required('initdb');
  const postgres = required('postgres');
  const owner = runAs();
  const madeDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'trellis-pg-'));
  mkdirSync(dir, { recursive: true });
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const port = options.port ?? (await freePort());
  const url = (database: string) => `postgres://${USER}:${password}@127.0.0.1:${port}/${database}`;
  const tail: string[] = [];

  if (!existsSync(join(data, 'PG_VERSION'))) {
    const passwordFile = join(dir, 'initdb-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (owner !== undefined) chownSync(passwordFile, owner.uid, owner.gid);
    const made = spawnSync(
      initdb,
      ['-D', data, '-U', USER, `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '-N'],
      { encoding: 'utf8', ...owner },
    );
    rmSync(passwordFile, { force: true });
    if (made.status !== 0) {
      throw new StartupError(`initdb failed (exit ${made.status}): ${(made.stderr || made.stdout).trim().slice(-500)}`);
    }
  }

  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: '',
    max_connections: '200',
    ...options.settings,
  };
  let child: ChildProcess | undefined;
  let release: ((graceMs?: number) => Promise<void>) | undefined;

  const start = async (): Promise<void> => {
    // After a crash the killed server's backends take a moment to notice and exit; until they have, a new
    // postmaster refuses the still-attached shared memory. A few tries cover that.
    for (let attempt = 1; ; attempt++) {
      const next = spawn(
        postgres,
        ['-D', data, '-p', String(port), ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          ...owner,
        },
      );
      keepOutput(next, tail, options.log);
      const stopNext = own(next);
      try {
        await untilReady(next, {
          probe: () => answers(url('postgres')),
          timeoutMs: START_TIMEOUT_MS,
          pollMs: 100,
          what: 'PostgreSQL',
          notReady: `did not answer on 127.0.0.1:${port}`,
          tail,
        });
        child = next;
        release = stopNext;
        return;
      } catch (err) {
        await stopNext(2_000);
        if (attempt >= 10) throw err;
        await sleep(500);
      }
    }
  };

  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once('exit', () => r()));

  const stop = async (): Promise<void> => {
    const c = child;
    if (c === undefined) return;
    child = undefined;
    c.kill('SIGINT'); // PostgreSQL's fast shutdown; SIGTERM would wait for every client to disconnect
    const timer = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await exited(c);
    clearTimeout(timer);
    await release?.();
  };

  const kill = async (): Promise<void> => {
    const c = child;
    if (c === undefined) return;
    child = undefined;
    c.kill('SIGKILL');
    await exited(c);
    await release?.();
  };

  const createDatabase = async (name: string): Promise<string> => {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
    const client = new (postgresDriver().Client)({ connectionString: url('postgres') });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return url(name);
  };

  await start();
  try {
    await createDatabase(DATABASE);
  } catch (err) {
    if (!(err instanceof Error && /already exists/.test(err.message))) {
      await stop();
      throw err;
    }
  }

  return {
    url: url(DATABASE),
    port,
    dir,
    createDatabase,
    stop,
    kill,
    start,
    restart: async () => {
      await stop();
      await start();
    },
    close: async () => {
      await stop();
      if (madeDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
