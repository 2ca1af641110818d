// PostgreSQL for the servers that outgrow one machine: a pool that survives the database restarting, URLs safe to
// log, and numbered .sql migrations that two instances starting at once apply exactly once.
import pg from 'pg';
import type { Logger } from './logger.ts';
import { redactUrl } from './logger.ts';
import { readSqliteMigrations } from './sqlite-migrate.ts';

export type PostgresPool = pg.Pool;
export type PostgresClient = pg.PoolClient;

export interface PostgresPoolOptions {
  /** Connections at most. Default 10 (pg's default). */
  readonly max?: number;
  /** Shown in `pg_stat_activity`, so a DBA can tell which server holds a connection. */
  readonly applicationName?: string;
  /** Where errors of idle connections go (a database restart ends every one of them). */
  readonly logger?: Logger;
  /** How long a request waits for a connection before it fails. Default 5 s. */
  readonly connectTimeoutMs?: number;
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
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'trellis',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  pool.on('error', (err) => {
    options.logger?.warn(
      { err: { message: err.message } },
      'an idle PostgreSQL connection failed; the pool replaces it',
    );
  });
  return pool;
}

/** Runs `fn` in one transaction on one pooled connection: COMMIT when it resolves, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: PostgresPool, fn: (client: PostgresClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
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
