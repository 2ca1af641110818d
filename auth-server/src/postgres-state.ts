// The auth server's state on PostgreSQL: one pool, the schema of store/postgres/, and every store's rows on it. Beside
// data-dir.ts, not in store/: it implements the rows each domain store (clients, users, keys) declares.
import { createHash } from 'node:crypto';
import {
  inTransaction,
  listenPostgres,
  migratePostgres,
  openPostgres,
  postgresUnreachable,
  redactDatabaseUrl,
  StartupError,
  type Health,
  type Logger,
  type PostgresClient,
  type PostgresListener,
  type PostgresPool,
} from '@trellis/kit';
import type { AdapterPayload } from 'oidc-provider';
import type { ClientRows, ClientRow } from './oauth-clients/store.ts';
import type { UserRows, UserRow } from './users/store.ts';
import type { KeyRows, KeyRow } from './crypto/signing-keys.ts';
import { systemClock, type Clock, type OidcStorage } from './store/oidc-storage.ts';
import { translateFailure } from './store/unavailable.ts';
import { storableText } from './store/text.ts';
import {
  CLEAR,
  failNowStatement,
  failStatement,
  LOCKED_UNTIL,
  PEEK,
  peeked,
  refusedFor,
  storedKey,
  SWEEP,
  takeStatement,
  UNCOUNT,
  type Counted,
  type FailureCounts,
  type Limit,
} from './store/failure-counts.ts';

/** Where a rotation is announced; every instance listens and reloads its keys. */
export const KEYS_CHANNEL = 'trellis_auth_keys';
/** The payload prefix of a client change on the same channel (a key rotation's payload is the new key's id). */
const CLIENT_CHANGED = 'client:';

/**
 * Client rows as last read, for the token endpoint, which reads its client on every request: used only while the
 * LISTEN that hears other instances' client changes is up, emptied whenever it was not, and each entry for at most
 * CLIENT_CACHE_MS even so. A change on any instance is told in the same statement that makes it, so another instance
 * drops its copy as the notification arrives, a few milliseconds after the change commits.
 */
class ClientCache {
  readonly #entries = new Map<string, { row: ClientRow; until: number }>();
  // Bumped by every drop: a read that began before a change must not put back what the change replaced.
  #generation = 0;
  live: () => boolean = () => false;

  get(clientId: string): ClientRow | undefined {
    if (!this.live()) return undefined;
    const hit = this.#entries.get(clientId);
    if (hit === undefined || hit.until <= Date.now()) return undefined;
    return hit.row;
  }

  get generation(): number {
    return this.#generation;
  }

  put(row: ClientRow, generation: number): void {
    if (!this.live() || generation !== this.#generation) return;
    if (this.#entries.size >= CLIENT_CACHE_MAX) this.#entries.clear();
    this.#entries.set(row.client_id, { row, until: Date.now() + CLIENT_CACHE_MS });
  }

  drop(clientId?: string): void {
    this.#generation++;
    if (clientId === undefined) this.#entries.clear();
    else this.#entries.delete(clientId);
  }
}
const CLIENT_CACHE_MS = 30_000;
const CLIENT_CACHE_MAX = 10_000;
/** Serializes key rotations of every instance on one database (pg_advisory_xact_lock's key: "trellis-keys"). */
const KEYS_LOCK = 0x7472_6b73;

export interface PostgresAuthState {
  readonly pool: PostgresPool;
  readonly clients: ClientRows;
  readonly users: UserRows;
  readonly keys: KeyRows;
  readonly storage: OidcStorage;
  readonly failureCounts: FailureCounts;
  /** UP when a trivial query answers; the URL without its password, and whether key rotations are heard. */
  health(): Promise<Health>;
  /**
   * Calls `listener` when any instance rotates the signing keys (NOTIFY), and once more after the notification
   * connection was lost and made again (a rotation in between would otherwise go unnoticed). Returns a stop function.
   */
  onKeysChanged(listener: () => void): () => void;
  close(): Promise<void>;
}

// Each statement's name, so PostgreSQL parses and plans it once per connection rather than on every token request.
const statementNames = new Map<string, string>();
const statementName = (text: string): string => {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `trellis_auth_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return name;
};

/** Runs a statement; a lost or refused connection becomes StoreUnavailableError (503), anything else stays. */
async function run<R extends object>(
  db: PostgresPool | PostgresClient,
  text: string,
  values: readonly unknown[] = [],
): Promise<{ rows: R[]; rowCount: number }> {
  try {
    const result = await db.query<R>({ name: statementName(text), text, values: values as unknown[] });
    return { rows: result.rows, rowCount: result.rowCount ?? 0 };
  } catch (err) {
    throw translateFailure(err);
  }
}

async function transaction<T>(pool: PostgresPool, fn: (client: PostgresClient) => Promise<T>): Promise<T> {
  try {
    return await inTransaction(pool, fn);
  } catch (err) {
    throw translateFailure(err);
  }
}

/**
 * Whether a key may be looked up: one PostgreSQL cannot hold (a NUL byte) would fail the query ("invalid byte
 * sequence"), and no stored key can hold one, so such a lookup matches nothing without asking.
 */
const lookable = (...keys: readonly string[]): boolean => keys.every(storableText);

const UNIQUE_VIOLATION = '23505';
const isUnique = (err: unknown): boolean => (err as { code?: unknown }).code === UNIQUE_VIOLATION;

/**
 * Opens the pool and applies the schema. Start-up fails at once, with the URL shown without its password, when the
 * database cannot be reached: an orchestrator restarts the process, and a server that started without its state
 * would only answer 503.
 */
export async function openPostgresAuthState(
  url: string,
  options: { logger?: Logger | undefined; clock?: Clock | undefined; max?: number | undefined } = {},
): Promise<PostgresAuthState> {
  const pool = openPostgres(url, {
    applicationName: 'trellis-auth-server',
    ...(options.max === undefined ? {} : { max: options.max }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  try {
    await migratePostgres(pool, { directory: new URL('./store/postgres/', import.meta.url), component: 'auth-server' });
  } catch (err) {
    await pool.end().catch(() => undefined);
    const unreachable = postgresUnreachable(err);
    const reason = unreachable === undefined ? (err as Error).message : `cannot reach it (${unreachable})`;
    throw new StartupError(`auth database ${redactDatabaseUrl(url)}: ${reason}`);
  }
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const listener of listeners) listener();
  };
  const clientCache = new ClientCache();
  const onNotification = (payload: string): void => {
    if (payload.startsWith(CLIENT_CHANGED)) clientCache.drop(payload.slice(CLIENT_CHANGED.length));
    else notify();
  };
  // Made on the first listener only: `trellis clients …` opens the store without one.
  let listening: Promise<PostgresListener | undefined> | undefined;
  return {
    pool,
    clients: postgresClientRows(pool, clientCache),
    users: postgresUserRows(pool),
    keys: postgresKeyRows(pool),
    storage: createPostgresStorage(pool, options.clock),
    failureCounts: postgresFailureCounts(pool),
    async health() {
      const details = { database: 'PostgreSQL', url: redactDatabaseUrl(url) };
      try {
        await pool.query('SELECT 1');
        const listener = await listening;
        return {
          status: 'UP',
          details: { ...details, ...(listener === undefined ? {} : { listening: listener.listening() }) },
        };
      } catch (err) {
        return {
          status: 'DOWN',
          details: { ...details, error: `unreachable (${postgresUnreachable(err) ?? 'query failed'})` },
        };
      }
    },
    onKeysChanged(listener) {
      listeners.add(listener);
      listening ??= listenPostgres(url, {
        channel: KEYS_CHANNEL,
        what: 'signing key rotations',
        applicationName: 'trellis-auth-server',
        ...(options.logger === undefined ? {} : { logger: options.logger }),
        onNotification,
        // A rotation or a client change while nobody listened (the database restarted) would go unnoticed: look
        // again, and forget every client read before.
        onListening: (again) => {
          clientCache.drop();
          if (again) notify();
        },
      })
        .then((listener) => {
          clientCache.live = listener.listening;
          return listener;
        })
        .catch((err: unknown) => {
          options.logger?.warn({ err }, 'signing key rotations elsewhere are seen at the periodic re-read only');
          return undefined;
        });
      return () => listeners.delete(listener);
    },
    async close() {
      await (await listening)?.close();
      await pool.end();
    },
  };
}

interface ClientRecord extends Omit<ClientRow, 'created_at' | 'updated_at'> {
  created_at: string;
  updated_at: string;
}

const CLIENT_COLUMNS =
  'client_id, metadata::text AS metadata, secret_hash, registration_token_hash, created_at, updated_at';

/** bigint columns arrive as text (node-postgres keeps 64-bit integers exact); epoch ms fit a number. */
const clientRow = (r: ClientRecord): ClientRow => ({
  ...r,
  created_at: Number(r.created_at),
  updated_at: Number(r.updated_at),
});

export function postgresClientRows(pool: PostgresPool, cache?: ClientCache): ClientRows {
  // Each change tells every instance in the statement that makes it, so the notification commits with it.
  const told = (statement: string) =>
    `WITH changed AS (${statement} RETURNING client_id) SELECT pg_notify('${KEYS_CHANNEL}', '${CLIENT_CHANGED}' || client_id) FROM changed`;
  const changed = async (clientId: string, statement: string, values: unknown[]): Promise<boolean> => {
    cache?.drop(clientId);
    try {
      return (await run(pool, told(statement), values)).rowCount > 0;
    } finally {
      // Again once it committed: a read that ran meanwhile may have kept the row as it was.
      cache?.drop(clientId);
    }
  };
  return {
    async get(clientId) {
      if (!lookable(clientId)) return undefined;
      const cached = cache?.get(clientId);
      if (cached !== undefined) return cached;
      const generation = cache?.generation ?? 0;
      const { rows } = await run<ClientRecord>(pool, `SELECT ${CLIENT_COLUMNS} FROM clients WHERE client_id = $1`, [
        clientId,
      ]);
      if (rows[0] === undefined) return undefined;
      const row = clientRow(rows[0]);
      cache?.put(row, generation);
      return row;
    },
    async list() {
      const { rows } = await run<ClientRecord>(pool, `SELECT ${CLIENT_COLUMNS} FROM clients ORDER BY client_id`);
      return rows.map(clientRow);
    },
    async insert(r) {
      try {
        await run(
          pool,
          `INSERT INTO clients (client_id, metadata, secret_hash, registration_token_hash, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [r.client_id, r.metadata, r.secret_hash, r.registration_token_hash, r.created_at, r.updated_at],
        );
        return true;
      } catch (err) {
        if (isUnique(err)) return false;
        throw err;
      }
    },
    async update(clientId, c) {
      if (!lookable(clientId)) return false;
      return c.metadata === undefined
        ? changed(clientId, 'UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE client_id = $3', [
            c.secret_hash,
            c.updated_at,
            clientId,
          ])
        : changed(
            clientId,
            'UPDATE clients SET metadata = $1, secret_hash = $2, updated_at = $3 WHERE client_id = $4',
            [c.metadata, c.secret_hash, c.updated_at, clientId],
          );
    },
    async remove(clientId) {
      if (!lookable(clientId)) return false;
      return changed(clientId, 'DELETE FROM clients WHERE client_id = $1', [clientId]);
    },
  };
}

type UserRecord = Omit<UserRow, 'created_at'> & { created_at: string };
const userRow = (r: UserRecord): UserRow => ({ ...r, created_at: Number(r.created_at) });

export function postgresUserRows(pool: PostgresPool): UserRows {
  return {
    async get(username) {
      if (!lookable(username)) return undefined;
      const { rows } = await run<UserRecord>(pool, 'SELECT * FROM users WHERE username = $1', [username]);
      return rows[0] === undefined ? undefined : userRow(rows[0]);
    },
    async list() {
      return (await run<UserRecord>(pool, 'SELECT * FROM users ORDER BY username')).rows.map(userRow);
    },
    async insert(r) {
      try {
        await run(
          pool,
          'INSERT INTO users (username, password_hash, name, email, created_at) VALUES ($1, $2, $3, $4, $5)',
          [r.username, r.password_hash, r.name, r.email, r.created_at],
        );
        return true;
      } catch (err) {
        if (isUnique(err)) return false;
        throw err;
      }
    },
    async remove(username) {
      if (!lookable(username)) return false;
      return (await run(pool, 'DELETE FROM users WHERE username = $1', [username])).rowCount > 0;
    },
  };
}

type KeyRecord = Omit<KeyRow, 'created_at' | 'retired_at'> & { created_at: string; retired_at: string | null };
const keyRow = (r: KeyRecord): KeyRow => ({
  ...r,
  created_at: Number(r.created_at),
  retired_at: r.retired_at === null ? null : Number(r.retired_at),
});
const KEY_ORDER = 'ORDER BY retired_at IS NOT NULL, created_at DESC';

export function postgresKeyRows(pool: PostgresPool): KeyRows {
  return {
    async list() {
      return (await run<KeyRecord>(pool, `SELECT * FROM signing_keys ${KEY_ORDER}`)).rows.map(keyRow);
    },
    rotate: (row, keep) =>
      transaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [KEYS_LOCK]);
        const current = await client.query<KeyRecord>('SELECT * FROM signing_keys WHERE retired_at IS NULL');
        if (keep?.(current.rows[0] === undefined ? undefined : keyRow(current.rows[0]))) return false;
        await client.query('UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL', [row.created_at]);
        await client.query(
          'INSERT INTO signing_keys (kid, alg, sealed, created_at, retired_at) VALUES ($1, $2, $3, $4, NULL)',
          [row.kid, row.alg, row.sealed, row.created_at],
        );
        // Delivered to every listening instance when the transaction commits, never before.
        await client.query('SELECT pg_notify($1, $2)', [KEYS_CHANNEL, row.kid]);
        return true;
      }),
    async prune(cutoff) {
      const { rows } = await run<{ kid: string }>(
        pool,
        'DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= $1 RETURNING kid',
        [cutoff],
      );
      return rows.map((r) => r.kid);
    },
  };
}

const PARAMS = {
  key: '$1',
  now: '$2::bigint',
  window: '$3::bigint',
  max: '$4::integer',
  lockout: '$5::bigint',
  maxLockout: '$6::bigint',
} as const;
const TAKE = takeStatement(PARAMS);
const FAIL = failStatement({ ...PARAMS, windowStart: '$7::bigint' });
const FAIL_NOW = failNowStatement(PARAMS);

/** The throttles' counts, shared by every instance on the database (see failure-counts.ts). */
export function postgresFailureCounts(pool: PostgresPool): FailureCounts {
  const bind = (stored: string, l: Limit): unknown[] => [stored, l.now, l.windowMs, l.max, l.lockoutMs, l.maxLockoutMs];
  const counted = async (stored: string, rows: { window_start: string }[], now: number): Promise<Counted> => {
    if (rows[0] !== undefined) return { windowStart: Number(rows[0].window_start) };
    const found = (await run<{ locked_until: string }>(pool, LOCKED_UNTIL, [stored])).rows[0];
    return refusedFor(found === undefined ? undefined : Number(found.locked_until), now);
  };
  return {
    async take(key, limit) {
      const stored = storedKey(key);
      // Its lockout is set by fail, so TAKE names no lockout parameters (PostgreSQL refuses unused ones).
      const { rows } = await run<{ window_start: string }>(pool, TAKE, bind(stored, limit).slice(0, 4));
      return counted(stored, rows, limit.now);
    },
    async fail(key, windowStart, limit) {
      await run(pool, FAIL, [...bind(storedKey(key), limit), windowStart]);
    },
    async failNow(key, limit) {
      const stored = storedKey(key);
      const { rows } = await run<{ window_start: string }>(pool, FAIL_NOW, bind(stored, limit));
      return counted(stored, rows, limit.now);
    },
    async peek(key, now) {
      const row = (
        await run<{ attempts: number; locked_until: string; expires_at: string }>(pool, PEEK, [storedKey(key)])
      ).rows[0];
      return peeked(
        row === undefined
          ? undefined
          : { attempts: row.attempts, locked_until: Number(row.locked_until), expires_at: Number(row.expires_at) },
        now,
      );
    },
    async uncount(key, windowStart) {
      await run(pool, UNCOUNT, [storedKey(key), windowStart]);
    },
    async clear(key) {
      await run(pool, CLEAR, [storedKey(key)]);
    },
  };
}

interface ModelRecord {
  payload: AdapterPayload;
  consumed_at: Date | null;
}

/**
 * oidc-provider's models on PostgreSQL: the SQLite storage's table with a jsonb payload, expiry checked in the query
 * and swept by startCleanup (by whichever instance runs it first). consume is conditional, so of two instances using
 * one refresh token at once only one rotates it.
 */
export function createPostgresStorage(pool: PostgresPool, clock: Clock = systemClock): OidcStorage {
  const now = (): Date => new Date(clock.now());
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  const read = (rows: ModelRecord[]): AdapterPayload | undefined => {
    const row = rows[0];
    if (row === undefined) return undefined;
    // oidc-provider treats a truthy `consumed` as "already used" (replayed codes, rotated refresh tokens).
    return row.consumed_at === null
      ? row.payload
      : { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) };
  };
  const select = (where: string) =>
    `SELECT payload, consumed_at FROM oidc_models
     WHERE model = $1 AND ${where} = $2 AND (expires_at IS NULL OR expires_at > $3) LIMIT 1`;
  const byId = select('id');
  const byUserCode = select('user_code');
  const byUid = select('uid');
  return {
    async upsert(model, id, payload, expiresIn) {
      const expiresAt = expiresIn === undefined ? null : new Date(clock.now() + expiresIn * 1000);
      await run(
        pool,
        `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
           user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`,
        [
          model,
          id,
          JSON.stringify(payload),
          text(payload.grantId),
          text(payload.userCode),
          text(payload.uid),
          expiresAt,
        ],
      );
    },
    find: async (model, id) =>
      lookable(model, id) ? read((await run<ModelRecord>(pool, byId, [model, id, now()])).rows) : undefined,
    findByUserCode: async (model, userCode) =>
      lookable(model, userCode)
        ? read((await run<ModelRecord>(pool, byUserCode, [model, userCode, now()])).rows)
        : undefined,
    findByUid: async (model, uid) =>
      lookable(model, uid) ? read((await run<ModelRecord>(pool, byUid, [model, uid, now()])).rows) : undefined,
    async consume(model, id) {
      if (!lookable(model, id)) return false;
      const { rowCount } = await run(
        pool,
        'UPDATE oidc_models SET consumed_at = $3 WHERE model = $1 AND id = $2 AND consumed_at IS NULL',
        [model, id, now()],
      );
      return rowCount > 0;
    },
    async destroy(model, id) {
      if (!lookable(model, id)) return;
      await run(pool, 'DELETE FROM oidc_models WHERE model = $1 AND id = $2', [model, id]);
    },
    async revokeByGrantId(grantId) {
      if (!lookable(grantId)) return;
      await run(pool, 'DELETE FROM oidc_models WHERE grant_id = $1', [grantId]);
    },
    removeExpired: async () =>
      (await run(pool, 'DELETE FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= $1', [now()])).rowCount +
      // The throttles' counts past their window go with the models (one clean-up timer for the store).
      (await run(pool, SWEEP, [clock.now()])).rowCount,
  };
}
