// Opens every store of the auth server (clients, users, keys, provider models): SQLite in the data dir by default,
// PostgreSQL when a database URL is given.
import { createSecretKey } from 'node:crypto';
import type { Health, Logger } from '@trellis/kit';
import { ClientStore, sqliteClientRows } from './oauth-clients/store.ts';
import { loadMasterKey, type MasterKey } from './crypto/master-key.ts';
import { SigningKeys, sqliteKeyRows } from './crypto/signing-keys.ts';
import { verifySecret } from './crypto/secrets.ts';
import { sqliteUserRows, UserStore } from './users/store.ts';
import { openDatabase } from './store/db.ts';
import { checkDatabaseUrl } from './store/database-url.ts';
import { createSqliteStorage, type Clock, type OidcStorage } from './store/oidc-storage.ts';
import { sqliteFailureCounts, type FailureCounts } from './store/failure-counts.ts';

/** Where the auth server keeps its state, as the component and the `trellis clients|users` functions name it. */
export interface DataDirOptions {
  /** The SQLite file's directory, and the master key file's when no AUTH_KEY_ENCRYPTION_KEY is set. */
  readonly dataDir: string;
  /** AUTH_KEY_ENCRYPTION_KEY when set; otherwise `<dataDir>/auth-master.key`. */
  readonly keyEncryptionKey?: string | undefined;
  /**
   * A postgres:// URL (TRELLIS_DATABASE_URL): the state lives there, shared by every instance of one issuer (which
   * then need the same AUTH_KEY_ENCRYPTION_KEY). Unset: SQLite in `<dataDir>/auth.db`.
   */
  readonly databaseUrl?: string | undefined;
}

export interface AuthStore {
  readonly master: MasterKey;
  readonly clients: ClientStore;
  readonly users: UserStore;
  readonly keys: SigningKeys;
  readonly storage: OidcStorage;
  /** The failure throttles' counts, shared by every instance (PostgreSQL) or worker (SQLite) on this store. */
  readonly failureCounts: FailureCounts;
  /** Checks a presented client secret against a stored hash. */
  readonly verifyClientSecret: (storedHash: string, presented: string) => boolean;
  /** The health indicator: whether the database answers, which one it is (never a password). */
  health(): Promise<Health>;
  /**
   * Calls `listener` when another instance may have rotated the signing keys (PostgreSQL's NOTIFY); SQLite has no
   * other instances, so never. Returns a stop function.
   */
  onKeysChanged(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Opens every store on SQLite (`<dataDir>/auth.db`) or, with a database URL, on PostgreSQL (migrated on open). */
export async function openAuthStore(
  options: DataDirOptions & { clock?: Clock; logger?: Logger | undefined },
): Promise<AuthStore> {
  checkDatabaseUrl(options.databaseUrl);
  const master = loadMasterKey(options);
  const now = options.clock === undefined ? Date.now : () => options.clock?.now() ?? Date.now();
  const pepper = createSecretKey(master.derive('client-secret-pepper'));
  const common = {
    master,
    verifyClientSecret: (stored: string, presented: string) => verifySecret(stored, presented, pepper),
  };
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    // Loaded only here: SQLite users (and `trellis` commands that never open a store) do not load the driver.
    const { openPostgresAuthState } = await import('./postgres-state.ts');
    const pg = await openPostgresAuthState(options.databaseUrl, { logger: options.logger, clock: options.clock });
    return {
      ...common,
      clients: new ClientStore({ rows: pg.clients, pepper, now }),
      users: new UserStore({ rows: pg.users, now }),
      keys: new SigningKeys({ rows: pg.keys, master, now, shared: true }),
      storage: pg.storage,
      failureCounts: pg.failureCounts,
      health: () => pg.health(),
      onKeysChanged: (listener) => pg.onKeysChanged(listener),
      close: () => pg.close(),
    };
  }
  const db = openDatabase({ dataDir: options.dataDir });
  return {
    ...common,
    clients: new ClientStore({ rows: sqliteClientRows(db), pepper, now }),
    users: new UserStore({ rows: sqliteUserRows(db), now }),
    keys: new SigningKeys({ rows: sqliteKeyRows(db), master, now }),
    storage: createSqliteStorage(db, options.clock),
    failureCounts: sqliteFailureCounts(db),
    health() {
      try {
        db.prepare('SELECT 1').get();
        return Promise.resolve({ status: 'UP', details: { database: 'SQLite' } });
      } catch {
        return Promise.resolve({ status: 'DOWN', details: { database: 'SQLite', error: 'unreachable' } });
      }
    },
    onKeysChanged: () => () => undefined,
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}

/** Runs `work` on the stores and closes them (the CLI's functions). */
export async function withAuthStore<T>(
  options: DataDirOptions,
  work: (store: AuthStore) => T | Promise<T>,
): Promise<T> {
  const store = await openAuthStore(options);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
