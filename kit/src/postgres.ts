// PostgreSQL for the servers that outgrow one machine: a pool that survives the database restarting, URLs safe to
// log, and numbered .sql migrations that two instances starting at once apply exactly once.
import { createRequire } from 'node:module';
import type pg from 'pg';
import type { Logger } from './logger.ts';
import { redactUrl } from './logger.ts';
import { readSqliteMigrations } from './sqlite-migrate.ts';

export type PostgresPool = pg.Pool;
export type PostgresClient = pg.PoolClient;

const require = createRequire(import.meta.url);

/** pg, loaded on the first pool: a service that never names a database never loads the driver. */
export function postgresDriver(): typeof pg {
  return require('pg') as typeof pg;
}

export interface PostgresPoolOptions {
  /** Connections at most. Default 10 (pg's default). */
  readonly max?: number;
  /** Shown in `pg_stat_activity`, so a DBA can tell which server holds a connection. */
  readonly applicationName?: string;
  /** Where errors of idle connections go (a database restart ends every one of them). */
  readonly logger?: Logger;
  /** How long a request waits for a connection before it fails. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /**
   * How long a query may wait for its answer before it fails: a database that froze without closing its sockets
   * (a failover, a dead host) must not hold requests forever. Default 10 s.
   */
  readonly queryTimeoutMs?: number;
}

/** True for `postgres://` and `postgresql://` URLs. */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url);
}

/**
 * The URL without its password, for logs, health and errors: `postgres://trellis@127.0.0.1:5432/trellis`. Query
 * parameters that may carry a secret (`password`, `sslpassword`…) are masked too.
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'postgres://(a URL that does not parse)';
  }
  parsed.password = '';
  return redactUrl(parsed.toString());
}

/**
 * A connection pool for `url`. A request fails after `connectTimeoutMs` rather than waiting for a database that is
 * down, and the errors idle connections raise when the database goes away are logged (never the URL), not thrown:
 * pg emits them on the pool, and an unheard `error` event would end the process.
 *
 * @example
 * const pool = openPostgres(settings.databaseUrl, { applicationName: 'trellis-auth-server', logger });
 * const { rows } = await pool.query('SELECT 1 AS one');
 */
export function openPostgres(url: string, options: PostgresPoolOptions = {}): PostgresPool {
  if (!isPostgresUrl(url)) throw new Error(`not a PostgreSQL URL: ${redactDatabaseUrl(url)}`);
  const pool = new (postgresDriver().Pool)({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'trellis',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    query_timeout: options.queryTimeoutMs ?? 10_000,
  });
  pool.on('error', (err) => {
    options.logger?.warn(
      { err: { message: err.message } },
      'an idle PostgreSQL connection failed; the pool replaces it',
    );
  });
  return pool;
}

const heard = new WeakSet<PostgresClient>();

/**
 * A checked-out connection has no `error` listener of the pool's, and pg emits one on it when the database goes
 * away mid-query; unheard, that ends the process. The failed query rejects anyway, so the event itself says nothing
 * new. Once per connection, not per use, so listeners do not pile up.
 */
function hearErrors(client: PostgresClient): PostgresClient {
  if (!heard.has(client)) {
    client.on('error', () => undefined);
    heard.add(client);
  }
  return client;
}

/** A connection of the pool for several statements; give it back with `release()` (`release(true)` when broken). */
export async function checkOut(pool: PostgresPool): Promise<PostgresClient> {
  return hearErrors(await pool.connect());
}

/** Runs `fn` in one transaction on one pooled connection: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: PostgresPool, fn: (client: PostgresClient) => Promise<T>): Promise<T> {
  const client = await checkOut(pool);
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // The connection itself is gone (the database restarted): it must not go back into the pool.
      broken = true;
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

export interface PostgresMigrateOptions {
  /** The directory of numbered `<n>-<name>.sql` files: `new URL('./postgres/', import.meta.url)`. */
  readonly directory: URL;
  /** Whose schema this is (`auth-server`): components sharing one database keep separate versions. */
  readonly component: string;
}

// One key for every component: migrations are rare, and one lock also covers creating the bookkeeping table.
const MIGRATION_LOCK = 0x7472656c; // "trel"

/**
 * Applies the migrations of `options.directory` not yet applied for `options.component`, all in one transaction
 * (PostgreSQL's DDL is transactional) under an advisory lock, so two instances started at once migrate once and
 * the second sees the first one's result. Throws, changing nothing, when the database is at a version newer than
 * any file here. Answers how many ran.
 *
 * @example
 * await migratePostgres(pool, { directory: new URL('./postgres/', import.meta.url), component: 'config-server' });
 */
export async function migratePostgres(pool: PostgresPool, options: PostgresMigrateOptions): Promise<number> {
  const all = readSqliteMigrations(options.directory);
  const latest = all.at(-1)?.version ?? 0;
  return inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS trellis_migrations (
         component  text NOT NULL,
         version    integer NOT NULL,
         name       text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (component, version))`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM trellis_migrations WHERE component = $1',
      [options.component],
    );
    const current = rows[0]?.version ?? 0;
    if (current > latest) {
      throw new Error(`the ${options.component} schema is at version ${current}, newer than this build (${latest})`);
    }
    let applied = 0;
    for (const migration of all) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO trellis_migrations (component, version, name) VALUES ($1, $2, $3)', [
        options.component,
        migration.version,
        migration.name,
      ]);
      applied++;
    }
    return applied;
  });
}

// Errors that say the database cannot be reached now (as opposed to a failed statement), by pg's or Node's code.
const UNREACHABLE: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection lost',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found',
  '57P01': 'the database is shutting down',
  '57P02': 'the database is shutting down',
  '57P03': 'the database is starting up or shutting down',
  '53300': 'too many connections',
};

/**
 * Why the database cannot be reached, in words fit for a client (no URL, no host, no driver text); undefined when
 * `err` is something else (a failed statement, a bug). Connection exceptions are SQLSTATE class 08.
 *
 * @example
 * const reason = postgresUnreachable(err);
 * if (reason !== undefined) return c.json({ error: `the database is unavailable (${reason})` }, 503);
 */
export function postgresUnreachable(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const known = UNREACHABLE[code];
    if (known !== undefined) return known;
    if (code.startsWith('08')) return 'connection lost';
  }
  // pg's own words for a connection that went away, never came, or a query that got no answer.
  if (
    /connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable/i.test(err.message)
  ) {
    return 'connection lost';
  }
  if (/Query read timeout/i.test(err.message)) return 'no answer in time';
  if (/Client was closed|Cannot use a pool after calling end/i.test(err.message)) return 'connection closed';
  return undefined;
}

export interface PostgresListenOptions {
  /** The channel to LISTEN on: a plain identifier. */
  readonly channel: string;
  /** Each notification's payload ('' when it had none). */
  readonly onNotification: (payload: string) => void;
  /**
   * Called each time a LISTEN starts, also after a lost connection came back: notifications sent while nobody
   * listened are gone, so whoever relies on them should look again (`again` is false the first time).
   */
  readonly onListening?: (again: boolean) => void;
  readonly logger?: Logger;
  /** What the notifications are about, for the log: `config changes`. */
  readonly what: string;
  /** `pg_stat_activity` name of the listening connection. */
  readonly applicationName?: string;
  /** Wait between attempts to listen again. Default 1 s. */
  readonly reconnectMs?: number;
  /**
   * How often the connection is asked `SELECT 1`; no answer within 5 s (or this, if shorter) counts as lost. A
   * database that vanished without closing the socket (a failover, a dead host) would otherwise leave us deaf.
   * Default 15 s.
   */
  readonly probeMs?: number;
}

export interface PostgresListener {
  /** Whether a LISTEN is in place now (for health). */
  readonly listening: () => boolean;
  close(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 5_000;

/**
 * LISTENs on `options.channel` on a connection of its own, held for as long as it lives and taken up again whenever
 * it is lost (the database restarted, or stopped answering). Resolves once the first attempt has ended, listening or
 * not: a database that is down at start keeps being tried.
 *
 * @example
 * const listener = await listenPostgres(url, { channel: 'trellis_config_changes', what: 'config changes',
 *   onNotification: (payload) => changed(payload), onListening: (again) => again && changed('') });
 */
export async function listenPostgres(url: string, options: PostgresListenOptions): Promise<PostgresListener> {
  if (!/^[a-z_][a-z0-9_]*$/.test(options.channel)) throw new Error(`not a plain channel name: ${options.channel}`);
  const { logger, channel } = options;
  const reconnectMs = options.reconnectMs ?? 1_000;
  const probeMs = options.probeMs ?? 15_000;
  // A pool of one, apart from any request pool: its connection is held, never handed back for queries.
  const pool = openPostgres(url, { max: 1, applicationName: options.applicationName, logger });
  let closed = false;
  let listening = false;
  let ever = false;
  // A LISTEN was lost (or never made) since the last one: said once in the log when it is back.
  let deaf = false;
  let drop: (() => void) | undefined;
  let retry: NodeJS.Timeout | undefined;

  const scheduleListen = (): void => {
    if (closed || retry !== undefined) return;
    retry = setTimeout(() => {
      retry = undefined;
      void listen();
    }, reconnectMs);
    retry.unref();
  };

  const probe = (client: PostgresClient, lose: (err: unknown) => void): (() => void) => {
    const timer = setInterval(() => {
      const timeout = setTimeout(
        () => lose(new Error('the LISTEN connection stopped answering')),
        Math.min(PROBE_TIMEOUT_MS, probeMs),
      );
      timeout.unref();
      client.query('SELECT 1').then(
        () => clearTimeout(timeout),
        (err: unknown) => {
          clearTimeout(timeout);
          lose(err);
        },
      );
    }, probeMs);
    timer.unref();
    return () => clearInterval(timer);
  };

  const onNotification = (message: { channel: string; payload?: string | undefined }): void => {
    if (message.channel === channel) options.onNotification(message.payload ?? '');
  };

  async function listen(): Promise<void> {
    if (closed) return;
    let client: PostgresClient;
    try {
      client = await pool.connect();
    } catch {
      deaf = true;
      scheduleListen();
      return;
    }
    let gone = false;
    let stopProbe = (): void => undefined;
    const lose = (err?: unknown): void => {
      if (gone) return;
      gone = true;
      deaf = true;
      listening = false;
      drop = undefined;
      stopProbe();
      client.removeListener('notification', onNotification);
      // Released with an error, the pool destroys the connection instead of keeping it.
      client.release(err instanceof Error ? err : new Error('the LISTEN connection ended'));
      if (!closed) {
        logger?.warn(
          { database: redactDatabaseUrl(url), reason: postgresUnreachable(err) ?? 'connection lost' },
          `lost the ${options.what} notifications; listening again when the database is back`,
        );
        scheduleListen();
      }
    };
    // Stays attached after release too: a late error on a dropped connection must not go unheard.
    client.on('error', lose);
    client.on('end', () => lose());
    client.on('notification', onNotification);
    try {
      await client.query(`LISTEN ${channel}`);
    } catch (err) {
      lose(err);
      return;
    }
    if (closed) {
      lose();
      return;
    }
    listening = true;
    drop = () => {
      gone = true;
      listening = false;
      stopProbe();
      client.release(true);
    };
    stopProbe = probe(client, lose);
    if (deaf) {
      deaf = false;
      logger?.info({ database: redactDatabaseUrl(url) }, `listening for ${options.what} again`);
    }
    options.onListening?.(ever);
    ever = true;
  }

  await listen();
  return {
    listening: () => listening,
    async close() {
      closed = true;
      clearTimeout(retry);
      drop?.();
      await pool.end();
    },
  };
}
