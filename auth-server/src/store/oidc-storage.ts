// Where oidc-provider's models live: the storage interface, its SQLite implementation and the adapter over it.
import type { Adapter, AdapterConstructor, AdapterPayload } from 'oidc-provider';
import type { BackgroundJobLog } from './background-failures.ts';
import type { Db } from './db.ts';
import { firstUnstorable } from './text.ts';
import { SWEEP } from './failure-counts.ts';

/**
 * Where oidc-provider's models live. The SQLite implementation below is the embedded default; the PostgreSQL one
 * (../postgres-state.ts) lets several auth server instances share state.
 */
export interface OidcStorage {
  upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number | undefined): void | Promise<void>;
  find(model: string, id: string): AdapterPayload | undefined | Promise<AdapterPayload | undefined>;
  findByUserCode(model: string, userCode: string): AdapterPayload | undefined | Promise<AdapterPayload | undefined>;
  findByUid(model: string, uid: string): AdapterPayload | undefined | Promise<AdapterPayload | undefined>;
  /**
   * Marks the entry consumed unless it already is: answers false when it was consumed before (or is gone), so of two
   * requests (or instances) using one refresh token or code at once only one goes on.
   */
  consume(model: string, id: string): boolean | Promise<boolean>;
  destroy(model: string, id: string): void | Promise<void>;
  revokeByGrantId(grantId: string): void | Promise<void>;
  /** Deletes expired entries (and the throttles' counts past their window, failure-counts.ts); answers how many. */
  removeExpired(): number | Promise<number>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

interface Row {
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
}

/** oidc-provider's models on SQLite: one table, expiry checked on read and swept by {@link startCleanup}. */
export function createSqliteStorage(db: Db, clock: Clock = systemClock): OidcStorage {
  const upsert = db.prepare<[string, string, string, string | null, string | null, string | null, number | null]>(
    `INSERT INTO oidc_models (model, id, payload, grant_id, user_code, uid, expires_at, consumed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
     ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
       user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`,
  );
  const byId = db.prepare<[string, string], Row>(
    'SELECT payload, expires_at, consumed_at FROM oidc_models WHERE model = ? AND id = ?',
  );
  const byUserCode = db.prepare<[string, string], Row>(
    'SELECT payload, expires_at, consumed_at FROM oidc_models WHERE model = ? AND user_code = ?',
  );
  const byUid = db.prepare<[string, string], Row>(
    'SELECT payload, expires_at, consumed_at FROM oidc_models WHERE model = ? AND uid = ?',
  );
  const consume = db.prepare<[number, string, string]>(
    'UPDATE oidc_models SET consumed_at = ? WHERE model = ? AND id = ? AND consumed_at IS NULL',
  );
  const destroy = db.prepare<[string, string]>('DELETE FROM oidc_models WHERE model = ? AND id = ?');
  const revoke = db.prepare<[string]>('DELETE FROM oidc_models WHERE grant_id = ?');
  const expired = db.prepare<[number]>('DELETE FROM oidc_models WHERE expires_at IS NOT NULL AND expires_at <= ?');
  const expiredCounts = db.prepare<[number]>(SWEEP.replace('$1', '?'));

  const read = (row: Row | undefined): AdapterPayload | undefined => {
    if (row === undefined) return undefined;
    if (row.expires_at !== null && row.expires_at <= clock.now()) return undefined;
    const payload = JSON.parse(row.payload) as AdapterPayload;
    // oidc-provider treats a truthy `consumed` as "already used" (replayed codes, rotated refresh tokens).
    return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(row.consumed_at / 1000) };
  };
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);

  return {
    upsert(model, id, payload, expiresIn) {
      const expiresAt = expiresIn === undefined ? null : clock.now() + expiresIn * 1000;
      upsert.run(
        model,
        id,
        JSON.stringify(payload),
        text(payload.grantId),
        text(payload.userCode),
        text(payload.uid),
        expiresAt,
      );
    },
    find: (model, id) => read(byId.get(model, id)),
    findByUserCode: (model, userCode) => read(byUserCode.get(model, userCode)),
    findByUid: (model, uid) => read(byUid.get(model, uid)),
    consume: (model, id) => consume.run(clock.now(), model, id).changes > 0,
    destroy(model, id) {
      destroy.run(model, id);
    },
    revokeByGrantId(grantId) {
      revoke.run(grantId);
    },
    // The throttles' counts past their window go with the models (one clean-up timer for the store).
    removeExpired: () => expired.run(clock.now()).changes + expiredCounts.run(clock.now()).changes,
  };
}

/** Looks up registered clients for the `Client` model (clients are managed by the admin API, not by the provider). */
export interface ClientSource {
  findMetadata(clientId: string): Promise<AdapterPayload | undefined>;
}

/** The models a grant is redeemed with: used once, and a second use is a replay that ends the grant. */
const GRANT_SOURCES = new Set(['RefreshToken', 'AuthorizationCode', 'DeviceCode', 'BackchannelAuthenticationRequest']);

/**
 * The Adapter class oidc-provider instantiates per model name. `Client` reads the client registry; every other model
 * goes to the storage. `replayed` makes the error for a grant source consumed by a concurrent request (on this or
 * another instance): oidc-provider reads `consumed` before it consumes, so without the storage's conditional consume
 * both requests would go on and rotate one refresh token twice. `invalidInput` makes the error for a request whose
 * values cannot be stored (see text.ts).
 */
export function createAdapterClass(
  storage: OidcStorage,
  clients: ClientSource,
  replayed: (model: string) => Error = (model) => new Error(`${model} already used`),
  invalidInput: (message: string) => Error = (message) => new Error(message),
): AdapterConstructor {
  return class TrellisAdapter implements Adapter {
    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void> {
      if (this.#model === 'Client') throw new Error('clients are registered through the admin API or trellis clients');
      // What the provider stores comes from requests (an authorization request's state, nonce…): a value no store can
      // keep is the request's fault, refused as such on SQLite too, so that both answer alike.
      const reason = firstUnstorable(payload);
      if (reason !== undefined) throw invalidInput(`a request parameter ${reason}`);
      await storage.upsert(this.#model, id, payload, expiresIn);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.#model === 'Client') return clients.findMetadata(id);
      return storage.find(this.#model, id);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return storage.findByUserCode(this.#model, userCode);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return storage.findByUid(this.#model, uid);
    }

    async consume(id: string): Promise<void> {
      if (await storage.consume(this.#model, id)) return;
      if (!GRANT_SOURCES.has(this.#model)) return;
      // Used twice at once: the replay oidc-provider would have caught had the two come one after the other, and
      // answered as it answers that one, by revoking the grant. The provider found the entry before it consumed, so
      // an entry gone now was consumed and revoked by another use already.
      const found = await storage.find(this.#model, id);
      if (typeof found?.grantId === 'string') {
        await Promise.all([storage.revokeByGrantId(found.grantId), storage.destroy('Grant', found.grantId)]);
      }
      throw replayed(this.#model);
    }

    async destroy(id: string): Promise<void> {
      await storage.destroy(this.#model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await storage.revokeByGrantId(grantId);
    }
  };
}

/**
 * Sweeps expired entries every `intervalMs`, telling `log` how each sweep went; the timer never keeps the process
 * alive. Returns a stop function.
 */
export function startCleanup(storage: OidcStorage, intervalMs: number, log: BackgroundJobLog): () => void {
  const timer = setInterval(() => {
    Promise.resolve()
      .then(() => storage.removeExpired())
      .then(
        () => log.succeeded(),
        (err: unknown) => log.failed(err),
      );
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Model names of what is kept about JWT access tokens, beside oidc-provider's own models. */
const REVOKED_ACCESS_TOKEN = 'RevokedAccessToken';
const ACCESS_TOKEN_GRANT = 'AccessTokenGrant';

/**
 * Revocations of JWT access tokens and the grants they came from, in the same storage as oidc-provider's models:
 * kept by `jti` until the token expires, swept with the rest, and shared by every node that shares the storage.
 */
export function accessTokenRecordStore(storage: OidcStorage) {
  return {
    revoke: (jti: string, clientId: string, expiresInSec: number) =>
      storage.upsert(REVOKED_ACCESS_TOKEN, jti, { clientId }, expiresInSec),
    isRevoked: async (jti: string) => (await storage.find(REVOKED_ACCESS_TOKEN, jti)) !== undefined,
    // Not under `grantId`, which the storage indexes for revokeByGrantId: the link must outlive a revoked grant, or
    // the token would look grant-less (and active) once its grant is gone.
    linkGrant: (jti: string, grantId: string, expiresInSec: number) =>
      storage.upsert(ACCESS_TOKEN_GRANT, jti, { grant: grantId }, expiresInSec),
    grantOf: async (jti: string) => {
      const found = await storage.find(ACCESS_TOKEN_GRANT, jti);
      return typeof found?.grant === 'string' ? found.grant : undefined;
    },
  };
}
