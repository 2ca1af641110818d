// The property store's contract, and its SQLite implementation: Spring's JDBC PROPERTIES table, with every write
// recorded for history and rollback.
import { openSqlite, type Health, type SqliteDatabase as Db, migrateSqlite } from '@trellis/kit';
import { ConfigServerError } from '../errors.ts';

// Numbered .sql files next to this module, applied in order on open.
const MIGRATIONS = new URL('./migrations/', import.meta.url);
// Freeing disk space takes an operator, not a moment.
const FULL_RETRY_AFTER_SECS = 30;

/**
 * SQLite's disk full as the 503 it is (the transaction was rolled back whole, reads still work), with the reason;
 * undefined for any other error.
 */
function unwritable(err: unknown): ConfigServerError | undefined {
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  if (code === 'SQLITE_FULL') {
    return new ConfigServerError(
      'backend_unavailable',
      'the config database cannot be written: the disk is full; retry once space is freed',
      { retryAfterSecs: FULL_RETRY_AFTER_SECS, cause: err },
    );
  }
  return undefined;
}

/** One (application, profile, label) row set of Spring's PROPERTIES table. */
export interface PropertyScope {
  readonly application: string;
  readonly profile: string;
  readonly label: string;
}

export interface KeyChange {
  readonly key: string;
  /** Null when the key did not exist before. */
  readonly old: string | null;
  /** Null when the change removed the key. */
  readonly new: string | null;
}

export type ChangeKind = 'put' | 'delete' | 'rollback';

export interface Change extends PropertyScope {
  readonly id: number;
  readonly actor: string;
  readonly at: string;
  readonly kind: ChangeKind;
  /** For a rollback: the change whose state was restored (0: the state before the first recorded change). */
  readonly rollbackTo: number | null;
  readonly changes: readonly KeyChange[];
}

export interface WriteRequest {
  readonly scope: PropertyScope;
  /** Keys to set; a null value removes the key. */
  readonly set?: Readonly<Record<string, string | null>>;
  readonly remove?: readonly string[];
  readonly actor: string;
}

export interface HistoryQuery {
  readonly scope?: PropertyScope;
  readonly limit?: number;
}

/**
 * Spring's JDBC model with history, in SQLite ({@link openPropertyStore}) or PostgreSQL (openPostgresPropertyStore).
 * Every method may reject with ConfigServerError `backend_unavailable` when the database cannot be reached.
 */
export interface PropertyStore {
  /** `sqlite`, or `jdbc` for a database server (Spring's name for the backend): the backend's kind in health. */
  readonly kind: 'sqlite' | 'jdbc';
  /** The stored rows of one scope in insertion order (Spring's query, without the ordering it leaves open). */
  read(scope: PropertyScope): Promise<[string, string][]>;
  /**
   * Applies a write in one transaction and records it; undefined when it changed nothing (no history row then).
   * The kind is `delete` when the write only removes keys.
   */
  write(request: WriteRequest): Promise<Change | undefined>;
  /** Changes newest first. */
  history(query?: HistoryQuery): Promise<Change[]>;
  /**
   * Restores a scope to its state right after change `to` (0: before its first recorded change), as one new
   * `rollback` change; rejects with {@link NoSuchChangeError} when `to` is not a change of this scope.
   */
  rollback(scope: PropertyScope, to: number, actor: string): Promise<Change | undefined>;
  /**
   * Told after every committed write, also writes by other processes sharing the database (then `scope` may be
   * undefined: something may have changed, the store cannot say where).
   */
  subscribe(listener: (scope: PropertyScope | undefined) => void): () => void;
  /** Number of stored properties. */
  count(): Promise<number>;
  /** UP with where the data is (never a password) and how many properties; DOWN with why when it cannot be read. */
  health(): Promise<Health>;
  close(): Promise<void>;
}

/** A write's target values (null: remove), in the request's order; later mentions of a key win. */
export function targetsOf(request: WriteRequest): Map<string, string | null> {
  const targets = new Map<string, string | null>();
  for (const [k, v] of Object.entries(request.set ?? {})) targets.set(k, v);
  for (const k of request.remove ?? []) targets.set(k, null);
  return targets;
}

/** `delete` for a write that only removes keys, else `put`. */
export function writeKind(targets: ReadonlyMap<string, string | null>): ChangeKind {
  return [...targets.values()].every((v) => v === null) ? 'delete' : 'put';
}

/** How many changes a history query lists: 100 unless asked, 1 to 1,000. */
export function historyLimit(query: HistoryQuery): number {
  return Math.max(1, Math.min(query.limit ?? 100, 1000));
}

/** The message of a rollback to a change that is not in the scope's history. */
export function noSuchChange(scope: PropertyScope, to: number): NoSuchChangeError {
  return new NoSuchChangeError(
    `change ${to} is not in the history of ${scope.application}/${scope.profile}/${scope.label}`,
  );
}

export class NoSuchChangeError extends Error {
  override readonly name = 'NoSuchChangeError';
}

export interface PropertyStoreOptions {
  /** A file path, or `:memory:` for tests. */
  readonly file: string;
  /** How often to look for writes made by other processes on the same file. Default 1 s; 0 turns it off. */
  readonly pollMs?: number;
  readonly clock?: () => Date;
}

interface ChangeRow {
  ID: number;
  APPLICATION: string;
  PROFILE: string;
  LABEL: string;
  ACTOR: string;
  AT: string;
  KIND: ChangeKind;
  ROLLBACK_TO: number | null;
}

interface HistoryRow {
  CHANGE_ID: number;
  KEY: string;
  OLD_VALUE: string | null;
  NEW_VALUE: string | null;
}

/**
 * Configuration properties in SQLite, in Spring's JDBC table, with every write through the API recorded (who,
 * when, old → new) so it can be listed and rolled back.
 *
 * @example
 * const store = openPropertyStore({ file: 'data/config.sqlite' });
 * store.write({ scope: { application: 'product', profile: 'default', label: 'master' }, set: { port: '7001' }, actor: 'ops' });
 */
export function openPropertyStore(options: PropertyStoreOptions): PropertyStore {
  const db: Db = openSqlite(options.file, { wal: true });
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrateSqlite(db, { directory: MIGRATIONS, database: 'config database' });
  const clock = options.clock ?? (() => new Date());
  const listeners = new Set<(scope: PropertyScope | undefined) => void>();

  const selectScope = db.prepare<[string, string, string], { KEY: string; VALUE: string }>(
    'SELECT KEY, VALUE FROM PROPERTIES WHERE APPLICATION = ? AND PROFILE = ? AND LABEL = ? ORDER BY ROWID',
  );
  const selectOne = db.prepare<[string, string, string, string], { VALUE: string }>(
    'SELECT VALUE FROM PROPERTIES WHERE APPLICATION = ? AND PROFILE = ? AND LABEL = ? AND KEY = ?',
  );
  const upsert = db.prepare<[string, string, string, string, string]>(
    `INSERT INTO PROPERTIES (APPLICATION, PROFILE, LABEL, KEY, VALUE) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (APPLICATION, PROFILE, LABEL, KEY) DO UPDATE SET VALUE = excluded.VALUE`,
  );
  const remove = db.prepare<[string, string, string, string]>(
    'DELETE FROM PROPERTIES WHERE APPLICATION = ? AND PROFILE = ? AND LABEL = ? AND KEY = ?',
  );
  const insertChange = db.prepare<[string, string, string, string, string, ChangeKind, number | null]>(
    `INSERT INTO PROPERTY_CHANGES (APPLICATION, PROFILE, LABEL, ACTOR, AT, KIND, ROLLBACK_TO)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertHistory = db.prepare<[number, string, string | null, string | null]>(
    'INSERT INTO PROPERTY_HISTORY (CHANGE_ID, KEY, OLD_VALUE, NEW_VALUE) VALUES (?, ?, ?, ?)',
  );
  const historyOf = db.prepare<[number], HistoryRow>(
    'SELECT CHANGE_ID, KEY, OLD_VALUE, NEW_VALUE FROM PROPERTY_HISTORY WHERE CHANGE_ID = ? ORDER BY ROWID',
  );
  const changeInScope = db.prepare<[number, string, string, string], { ID: number }>(
    'SELECT ID FROM PROPERTY_CHANGES WHERE ID = ? AND APPLICATION = ? AND PROFILE = ? AND LABEL = ?',
  );
  // The earliest change after `to` of each key is the one whose OLD_VALUE is the key's value right after `to`.
  const valuesAfter = db.prepare<[string, string, string, number, number], { KEY: string; OLD_VALUE: string | null }>(
    `SELECT h.KEY, h.OLD_VALUE FROM PROPERTY_HISTORY h JOIN PROPERTY_CHANGES c ON c.ID = h.CHANGE_ID
     WHERE c.APPLICATION = ? AND c.PROFILE = ? AND c.LABEL = ? AND c.ID > ?
       AND c.ID = (SELECT MIN(c2.ID) FROM PROPERTY_CHANGES c2 JOIN PROPERTY_HISTORY h2 ON h2.CHANGE_ID = c2.ID
                   WHERE c2.APPLICATION = c.APPLICATION AND c2.PROFILE = c.PROFILE AND c2.LABEL = c.LABEL
                     AND c2.ID > ? AND h2.KEY = h.KEY)`,
  );
  const countRows = db.prepare<[], { N: number }>('SELECT COUNT(*) AS N FROM PROPERTIES');

  function notify(scope: PropertyScope | undefined): void {
    for (const l of listeners) l(scope);
  }

  function toChange(row: ChangeRow): Change {
    return {
      id: row.ID,
      application: row.APPLICATION,
      profile: row.PROFILE,
      label: row.LABEL,
      actor: row.ACTOR,
      at: row.AT,
      kind: row.KIND,
      rollbackTo: row.ROLLBACK_TO,
      changes: historyOf.all(row.ID).map((h) => ({ key: h.KEY, old: h.OLD_VALUE, new: h.NEW_VALUE })),
    };
  }

  /** Applies target values (null: absent) and records the keys that really changed; inside a transaction. */
  function apply(
    scope: PropertyScope,
    targets: ReadonlyMap<string, string | null>,
    actor: string,
    kind: ChangeKind,
    rollbackTo: number | null,
  ): Change | undefined {
    const { application: a, profile: p, label: l } = scope;
    const diffs: KeyChange[] = [];
    for (const [key, value] of targets) {
      const old = selectOne.get(a, p, l, key)?.VALUE ?? null;
      if (old === value) continue;
      if (value === null) remove.run(a, p, l, key);
      else upsert.run(a, p, l, key, value);
      diffs.push({ key, old, new: value });
    }
    if (diffs.length === 0) return undefined;
    const id = Number(insertChange.run(a, p, l, actor, clock().toISOString(), kind, rollbackTo).lastInsertRowid);
    for (const d of diffs) insertHistory.run(id, d.key, d.old, d.new);
    const row = db.prepare<[number], ChangeRow>('SELECT * FROM PROPERTY_CHANGES WHERE ID = ?').get(id);
    return row === undefined ? undefined : toChange(row);
  }

  const writeTx = db.transaction((request: WriteRequest): Change | undefined => {
    const targets = targetsOf(request);
    return apply(request.scope, targets, request.actor, writeKind(targets), null);
  });

  const rollbackTx = db.transaction((scope: PropertyScope, to: number, actor: string): Change | undefined => {
    const { application: a, profile: p, label: l } = scope;
    if (to !== 0 && changeInScope.get(to, a, p, l) === undefined) throw noSuchChange(scope, to);
    const targets = new Map<string, string | null>();
    for (const row of valuesAfter.all(a, p, l, to, to)) targets.set(row.KEY, row.OLD_VALUE);
    return apply(scope, targets, actor, 'rollback', to);
  });

  // data_version moves only for commits made by other connections: a cheap way to hear of writes by another
  // config server (or a DBA) sharing the file, so their watch streams fire too.
  let dataVersion = db.pragma('data_version', { simple: true }) as number;
  const poll =
    options.pollMs === 0 || options.file === ':memory:'
      ? undefined
      : setInterval(() => {
          const v = db.pragma('data_version', { simple: true }) as number;
          if (v !== dataVersion) {
            dataVersion = v;
            notify(undefined);
          }
        }, options.pollMs ?? 1000);
  poll?.unref();

  // Synchronous underneath: each answer is settled before the promise is handed out, so callers see SQLite's
  // order of operations unchanged.
  const settle = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(unwritable(err) ?? (err instanceof Error ? err : new Error(String(err))));
    }
  };
  const count = (): number => countRows.get()?.N ?? 0;

  function history(query: HistoryQuery): Change[] {
    const limit = historyLimit(query);
    const rows =
      query.scope === undefined
        ? db.prepare<[number], ChangeRow>('SELECT * FROM PROPERTY_CHANGES ORDER BY ID DESC LIMIT ?').all(limit)
        : db
            .prepare<[string, string, string, number], ChangeRow>(
              `SELECT * FROM PROPERTY_CHANGES WHERE APPLICATION = ? AND PROFILE = ? AND LABEL = ?
               ORDER BY ID DESC LIMIT ?`,
            )
            .all(query.scope.application, query.scope.profile, query.scope.label, limit);
    return rows.map(toChange);
  }

  return {
    kind: 'sqlite',
    read(scope) {
      return settle(() =>
        selectScope.all(scope.application, scope.profile, scope.label).map((r): [string, string] => [r.KEY, r.VALUE]),
      );
    },
    write(request) {
      return settle(() => {
        const change = writeTx(request);
        if (change !== undefined) notify(request.scope);
        return change;
      });
    },
    history(query = {}) {
      return settle(() => history(query));
    },
    rollback(scope, to, actor) {
      return settle(() => {
        const change = rollbackTx(scope, to, actor);
        if (change !== undefined) notify(scope);
        return change;
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    count() {
      return settle(count);
    },
    health() {
      const where = options.file === ':memory:' ? {} : { file: options.file };
      try {
        return Promise.resolve({ status: 'UP', details: { backend: 'sqlite', ...where, properties: count() } });
      } catch {
        return Promise.resolve({
          status: 'DOWN',
          details: { backend: 'sqlite', ...where, error: 'the database cannot be read' },
        });
      }
    },
    close() {
      clearInterval(poll);
      listeners.clear();
      db.close();
      return Promise.resolve();
    },
  };
}
