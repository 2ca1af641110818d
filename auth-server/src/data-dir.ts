// Opens every store of an auth server data dir (clients, users, keys, provider models) on one SQLite connection.
import { createSecretKey } from 'node:crypto';
import { ClientStore } from './oauth-clients/store.ts';
import { loadMasterKey, type MasterKey } from './crypto/master-key.ts';
import { SigningKeys } from './crypto/signing-keys.ts';
import { verifySecret } from './crypto/secrets.ts';
import { UserStore } from './users/store.ts';
import { openDatabase, type Db } from './store/db.ts';
import { createSqliteStorage, type Clock, type OidcStorage } from './store/oidc-storage.ts';

/** Where the auth server keeps its state, as the component and the `trellis clients|users` functions name it. */
export interface DataDirOptions {
  readonly dataDir: string;
  /** AUTH_KEY_ENCRYPTION_KEY when set; otherwise `<dataDir>/auth-master.key`. */
  readonly keyEncryptionKey?: string | undefined;
}

export interface AuthStore {
  readonly db: Db;
  readonly master: MasterKey;
  readonly clients: ClientStore;
  readonly users: UserStore;
  readonly keys: SigningKeys;
  readonly storage: OidcStorage;
  /** Checks a presented client secret against a stored hash. */
  readonly verifyClientSecret: (storedHash: string, presented: string) => boolean;
  close(): void;
}

/** Opens every store of a data dir on one SQLite connection. */
export function openAuthStore(options: DataDirOptions & { clock?: Clock }): AuthStore {
  const master = loadMasterKey(options);
  const db = openDatabase({ dataDir: options.dataDir });
  const now = options.clock === undefined ? Date.now : () => options.clock?.now() ?? Date.now();
  const pepper = createSecretKey(master.derive('client-secret-pepper'));
  return {
    db,
    master,
    clients: new ClientStore({ db, pepper, now }),
    users: new UserStore({ db, now }),
    keys: new SigningKeys({ db, master, now }),
    storage: createSqliteStorage(db, options.clock),
    verifyClientSecret: (stored, presented) => verifySecret(stored, presented, pepper),
    close: () => db.close(),
  };
}

/** Runs `work` on the data dir's stores and closes them (the CLI's functions). */
export async function withAuthStore<T>(
  options: DataDirOptions,
  work: (store: AuthStore) => T | Promise<T>,
): Promise<T> {
  const store = openAuthStore(options);
  try {
    return await work(store);
  } finally {
    store.close();
  }
}
