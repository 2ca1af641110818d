// The property store in PostgreSQL: Spring's JDBC tables shared by every config server on the database, writes
// serialized per scope, changes told across instances with LISTEN/NOTIFY.
import { randomUUID } from 'node:crypto';
import {
  inTransaction,
  listenPostgres,
  migratePostgres,
  openPostgres,
  postgresUnreachable,
  redactDatabaseUrl,
  type Health,
  type Logger,
  type PostgresClient,
  type PostgresPool,
} from '@trellis/kit';
import { ConfigServerError } from '../errors.ts';
import {
  historyLimit,
  noSuchChange,
  targetsOf,
  writeKind,
  type Change,
  type ChangeKind,
  type KeyChange,
  type PropertyScope,
  type PropertyStore,
} from './properties.ts';

// Numbered .sql files, applied in order on open under the kit's migration lock (component `config-server`).
const MIGRATIONS = new URL('./postgres/', import.meta.url);

/**
 * The channel every config server on the database LISTENs on. The payload is `{"from": <instance>, "scope":
 * [application, profile, label]}`; anything else (a DBA's bare `NOTIFY trellis_config_changes` after editing
 * PROPERTIES by hand) tells the watchers that something may have changed.
 */
export const CHANGES_CHANNEL = 'trellis_config_changes';

/** Seconds a client is told to wait (Retry-After) when the database is unreachable. */
const RETRY_AFTER_SECS = 2;

export interface PostgresPropertyStoreOptions {
  /** postgres:// or postgresql://; it never reaches logs, health or error bodies with its password. */
  readonly url: string;
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** Connections in the pool for reads and writes (the LISTEN connection is apart). Default 10. */
  readonly maxConnections?: number;
  /** Wait between attempts to LISTEN again after the connection was lost. Default 1 s. */
  readonly reconnectMs?: number;
  /** How often the LISTEN connection is asked `SELECT 1` (see the kit's listenPostgres). Default 15 s. */
  readonly probeMs?: number;
}

interface ChangeRow {
  id: string;
  application: string;
  profile: string;
  label: string;
  actor: string;
  at: Date;
  kind: ChangeKind;
  rollback_to: string | null;
}

interface HistoryRow {
  change_id: string;
  key: string;
  old_value: string | null;
  new_value: string | null;
}

/**
 * Spring's JDBC tables in PostgreSQL, with history and rollback, for several config servers on one database.
 * Writes and rollbacks each run in one transaction holding a per-scope advisory lock from before their first read,
 * so writers on any instance serialize per scope and every history row's old → new is exact. The NOTIFY is sent
 * inside the transaction, so it goes out exactly when the write commits; each instance LISTENs on a dedicated
 * connection, takes it up again after the database comes back, and then tells its watchers once that anything may
 * have changed. While the database is unreachable every call rejects with `backend_unavailable` (503).
 *
 * @example
 * const store = await openPostgresPropertyStore({ url: 'postgres://trellis:…@127.0.0.1:5432/trellis', logger });
 */
export async function openPostgresPropertyStore(options: PostgresPropertyStoreOptions): Promise<PropertyStore> {
  const { logger } = options;
  const where = redactDatabaseUrl(options.url);
  const clock = options.clock ?? (() => new Date());
  // Tells this instance's own notifications (already told locally at commit) from other instances'.
  const instance = randomUUID();
  const listeners = new Set<(scope: PropertyScope | undefined) => void>();
  const pool: PostgresPool = openPostgres(options.url, {
    max: options.maxConnections ?? 10,
    applicationName: 'trellis-config-server',
    logger,
  });
  try {
    await migratePostgres(pool, { directory: MIGRATIONS, component: 'config-server' });
  } catch (err) {
    await pool.end();
    throw err;
  }

  function notify(scope: PropertyScope | undefined): void {
    for (const l of listeners) l(scope);
  }

  /** Runs a database call, turning "cannot reach the database" into a 503 with the reason and nothing else. */
  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const reason = postgresUnreachable(err);
      if (reason === undefined) throw err;
      throw new ConfigServerError(
        'backend_unavailable',
        `the config database is unavailable (${reason}); retry shortly`,
        {
          retryAfterSecs: RETRY_AFTER_SECS,
          cause: err,
        },
      );
    }
  }

  /** Holds the scope's lock until the transaction ends; writers of other scopes go on in parallel. */
  async function lockScope(client: PostgresClient, scope: PropertyScope): Promise<void> {
    const name = JSON.stringify(['trellis-config-scope', scope.application, scope.profile, scope.label]);
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [name]);
  }

  /** Applies target values (null: absent) and records the keys that really changed; inside a locked transaction. */
  async function apply(
    client: PostgresClient,
    scope: PropertyScope,
    targets: ReadonlyMap<string, string | null>,
    actor: string,
    kind: ChangeKind,
    rollbackTo: number | null,
  ): Promise<Change | undefined> {
    const { application: a, profile: p, label: l } = scope;
    const { rows: current } = await client.query<{ key: string; value: string }>(
      'SELECT key, value FROM properties WHERE application = $1 AND profile = $2 AND label = $3 AND key = ANY($4::text[])',
      [a, p, l, [...targets.keys()]],
    );
    const before = new Map(current.map((r) => [r.key, r.value]));
    const diffs: KeyChange[] = [];
    for (const [key, value] of targets) {
      const old = before.get(key) ?? null;
      if (old !== value) diffs.push({ key, old, new: value });
    }
    if (diffs.length === 0) return undefined;
    const sets = diffs.filter((d): d is KeyChange & { new: string } => d.new !== null);
    if (sets.length > 0) {
      // In the write's order, so new keys take their places (ID) as SQLite's ROWID would give them.
      await client.query(
        `INSERT INTO properties (application, profile, label, key, value)
         SELECT $1, $2, $3, k, v FROM unnest($4::text[], $5::text[]) WITH ORDINALITY AS t(k, v, n) ORDER BY n
         ON CONFLICT (application, profile, label, key) DO UPDATE SET value = excluded.value`,
        [a, p, l, sets.map((d) => d.key), sets.map((d) => d.new)],
      );
    }
    const removes = diffs.filter((d) => d.new === null).map((d) => d.key);
    if (removes.length > 0) {
      await client.query(
        'DELETE FROM properties WHERE application = $1 AND profile = $2 AND label = $3 AND key = ANY($4::text[])',
        [a, p, l, removes],
      );
    }
    const at = clock();
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO property_changes (application, profile, label, actor, at, kind, rollback_to)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [a, p, l, actor, at, kind, rollbackTo],
    );
    const id = Number(rows[0]?.id);
    await client.query(
      `INSERT INTO property_history (change_id, key, old_value, new_value)
       SELECT $1, k, o, v FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS t(k, o, v, n) ORDER BY n`,
      [id, diffs.map((d) => d.key), diffs.map((d) => d.old), diffs.map((d) => d.new)],
    );
    // Delivered at commit, and only if it commits.
    await client.query('SELECT pg_notify($1, $2)', [
      CHANGES_CHANNEL,
      JSON.stringify({ from: instance, scope: [a, p, l] }),
    ]);
    return {
      id,
      application: a,
      profile: p,
      label: l,
      actor,
      at: at.toISOString(),
      kind,
      rollbackTo,
      changes: diffs,
    };
  }

  // --- LISTEN on a connection of its own, taken up again whenever it is lost (the kit's listenPostgres). ---

  function onNotification(payload: string): void {
    let scope: PropertyScope | undefined;
    try {
      const parsed = JSON.parse(payload) as { from?: unknown; scope?: unknown };
      if (parsed.from === instance) return;
      const s = parsed.scope;
      if (Array.isArray(s) && s.length === 3 && s.every((x) => typeof x === 'string')) {
        const [application, profile, label] = s as [string, string, string];
        scope = { application, profile, label };
      }
    } catch {
      // Not ours: somebody says something changed, without saying where.
    }
    notify(scope);
  }

  const listener = await listenPostgres(options.url, {
    channel: CHANGES_CHANNEL,
    what: 'config change',
    applicationName: 'trellis-config-server-listen',
    logger,
    reconnectMs: options.reconnectMs,
    probeMs: options.probeMs,
    onNotification,
    // Writes by other instances while nobody listened were not heard: every watcher looks again. (The first time,
    // while the store opens, nobody is subscribed yet.)
    onListening: () => notify(undefined),
  });

  return {
    kind: 'jdbc',
    read(scope) {
      return guarded(async () => {
        const { rows } = await pool.query<{ key: string; value: string }>(
          'SELECT key, value FROM properties WHERE application = $1 AND profile = $2 AND label = $3 ORDER BY id',
          [scope.application, scope.profile, scope.label],
        );
        return rows.map((r): [string, string] => [r.key, r.value]);
      });
    },
    async write(request) {
      const targets = targetsOf(request);
      const change = await guarded(() =>
        inTransaction(pool, async (client) => {
          await lockScope(client, request.scope);
          return apply(client, request.scope, targets, request.actor, writeKind(targets), null);
        }),
      );
      if (change !== undefined) notify(request.scope);
      return change;
    },
    history(query = {}) {
      return guarded(async () => {
        const limit = historyLimit(query);
        const columns = 'id, application, profile, label, actor, at, kind, rollback_to';
        const { rows } =
          query.scope === undefined
            ? await pool.query<ChangeRow>(`SELECT ${columns} FROM property_changes ORDER BY id DESC LIMIT $1`, [limit])
            : await pool.query<ChangeRow>(
                `SELECT ${columns} FROM property_changes WHERE application = $1 AND profile = $2 AND label = $3
                 ORDER BY id DESC LIMIT $4`,
                [query.scope.application, query.scope.profile, query.scope.label, limit],
              );
        // A change's history rows commit with it: every change listed has all of its rows.
        const { rows: keyRows } = await pool.query<HistoryRow>(
          'SELECT change_id, key, old_value, new_value FROM property_history WHERE change_id = ANY($1::bigint[]) ORDER BY id',
          [rows.map((r) => r.id)],
        );
        const byChange = new Map<string, KeyChange[]>();
        for (const h of keyRows) {
          const list = byChange.get(h.change_id) ?? [];
          list.push({ key: h.key, old: h.old_value, new: h.new_value });
          byChange.set(h.change_id, list);
        }
        return rows.map((r): Change => ({
          id: Number(r.id),
          application: r.application,
          profile: r.profile,
          label: r.label,
          actor: r.actor,
          at: r.at.toISOString(),
          kind: r.kind,
          rollbackTo: r.rollback_to === null ? null : Number(r.rollback_to),
          changes: byChange.get(r.id) ?? [],
        }));
      });
    },
    async rollback(scope, to, actor) {
      const { application: a, profile: p, label: l } = scope;
      const change = await guarded(() =>
        inTransaction(pool, async (client) => {
          await lockScope(client, scope);
          if (to !== 0) {
            const found = await client.query(
              'SELECT 1 FROM property_changes WHERE id = $1 AND application = $2 AND profile = $3 AND label = $4',
              [to, a, p, l],
            );
            if (found.rowCount === 0) throw noSuchChange(scope, to);
          }
          // The earliest change after `to` of each key holds, as its OLD_VALUE, the key's value right after `to`.
          const { rows } = await client.query<{ key: string; old_value: string | null }>(
            `SELECT key, old_value FROM (
               SELECT DISTINCT ON (h.key) h.key, h.old_value, h.id
               FROM property_history h JOIN property_changes c ON c.id = h.change_id
               WHERE c.application = $1 AND c.profile = $2 AND c.label = $3 AND c.id > $4
               ORDER BY h.key, c.id
             ) firsts ORDER BY id`,
            [a, p, l, to],
          );
          const targets = new Map(rows.map((r) => [r.key, r.old_value]));
          return apply(client, scope, targets, actor, 'rollback', to);
        }),
      );
      if (change !== undefined) notify(scope);
      return change;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    count() {
      return guarded(async () => {
        const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM properties');
        return Number(rows[0]?.n ?? 0);
      });
    },
    async health(): Promise<Health> {
      const details = { backend: 'jdbc', database: 'postgresql', url: where };
      try {
        const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM properties');
        return {
          status: 'UP',
          details: { ...details, properties: Number(rows[0]?.n ?? 0), listening: listener.listening() },
        };
      } catch (err) {
        return {
          status: 'DOWN',
          details: { ...details, error: `the database cannot be read (${postgresUnreachable(err) ?? 'query failed'})` },
        };
      }
    },
    async close() {
      listeners.clear();
      await Promise.all([listener.close(), pool.end()]);
    },
  };
}
