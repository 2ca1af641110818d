// The token signing keys, stored sealed: the current one, retired ones still published, rotation.
import { generateKeyPairSync, randomUUID, type JsonWebKey } from 'node:crypto';
import { StartupError } from '@trellis/kit';
import type { Awaitable, Db } from '../store/db.ts';
import type { MasterKey } from './master-key.ts';

export type SigningAlg = 'RS256' | 'ES256';

/** A private JWK as oidc-provider's `jwks` option takes it. */
export type PrivateJwk = JsonWebKey & { kid: string; alg: SigningAlg; use: 'sig' };

export interface SigningKeyInfo {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly createdAt: number;
  readonly retiredAt: number | undefined;
}

/** A key as stored, the same columns on SQLite and PostgreSQL; times in epoch ms. */
export interface KeyRow {
  readonly kid: string;
  readonly alg: string;
  readonly sealed: string;
  readonly created_at: number;
  readonly retired_at: number | null;
}

/** Where signing keys live (SQLite here, PostgreSQL in postgres-state.ts). */
export interface KeyRows {
  /** Every key, the current one first, then the newest. */
  list(): Awaitable<KeyRow[]>;
  /**
   * In one transaction (on PostgreSQL also under a lock every instance takes, so two starting at once make one key):
   * unless `keep` accepts the current key, retires it and inserts `row` as the new current one. Answers whether it
   * did. On PostgreSQL the other instances are told (NOTIFY) when the transaction commits.
   */
  rotate(row: KeyRow, keep?: (current: KeyRow | undefined) => boolean): Awaitable<boolean>;
  /** Deletes keys retired at or before `cutoff`; answers their kids. */
  prune(cutoff: number): Awaitable<string[]>;
}

const ORDER = 'ORDER BY retired_at IS NOT NULL, created_at DESC';

export function sqliteKeyRows(db: Db): KeyRows {
  const all = db.prepare<[], KeyRow>(`SELECT * FROM signing_keys ${ORDER}`);
  const retire = db.prepare<[number]>('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL');
  const insert = db.prepare<[string, string, string, number]>(
    'INSERT INTO signing_keys (kid, alg, sealed, created_at, retired_at) VALUES (?, ?, ?, ?, NULL)',
  );
  const old = db.prepare<[number], { kid: string }>(
    'SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= ?',
  );
  const drop = db.prepare<[number]>('DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= ?');
  return {
    list: () => all.all(),
    rotate(row, keep) {
      // IMMEDIATE: the write lock is taken before the current key is read, so `trellis auth-server rotate-keys` and a
      // starting server cannot both see the same current key.
      return db
        .transaction(() => {
          if (keep?.(all.all().find((r) => r.retired_at === null))) return false;
          retire.run(row.created_at);
          insert.run(row.kid, row.alg, row.sealed, row.created_at);
          return true;
        })
        .immediate();
    },
    prune(cutoff) {
      return db.transaction(() => {
        const kids = old.all(cutoff).map((r) => r.kid);
        drop.run(cutoff);
        return kids;
      })();
    },
  };
}

function generate(alg: SigningAlg): PrivateJwk {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...pair.privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

/**
 * Signing keys persisted sealed under the master key. The current key (never retired) signs; retired keys stay in
 * the JWKS for `retainMs` after retirement so tokens they signed still verify, then they are dropped.
 */
export class SigningKeys {
  readonly #rows: KeyRows;
  readonly #master: MasterKey;
  readonly #now: () => number;
  readonly #shared: boolean;

  /** `shared`: the rows are in a database other instances may share (PostgreSQL), not in one data dir. */
  constructor(options: { rows: KeyRows; master: MasterKey; now?: () => number; shared?: boolean }) {
    this.#rows = options.rows;
    this.#master = options.master;
    this.#now = options.now ?? Date.now;
    this.#shared = options.shared ?? false;
  }

  /**
   * Makes the first key on first start, or a new one when the configured algorithm changed. Of several instances
   * starting at once on one database, one makes it and the others take it.
   */
  async ensureCurrent(alg: SigningAlg): Promise<void> {
    const fits = (current: { alg: string } | undefined): boolean => current?.alg === alg;
    if (fits((await this.list()).find((k) => k.retiredAt === undefined))) return;
    await this.#rotate(alg, fits);
  }

  /** Adds a new current key and retires the previous one (it stays published until its tokens expire). */
  async rotate(alg: SigningAlg): Promise<SigningKeyInfo> {
    return this.#rotate(alg, undefined);
  }

  async #rotate(
    alg: SigningAlg,
    keep: ((current: KeyRow | undefined) => boolean) | undefined,
  ): Promise<SigningKeyInfo> {
    const jwk = generate(alg);
    const now = this.#now();
    await this.#rows.rotate(
      { kid: jwk.kid, alg, sealed: this.#master.seal(JSON.stringify(jwk), jwk.kid), created_at: now, retired_at: null },
      keep,
    );
    return { kid: jwk.kid, alg, createdAt: now, retiredAt: undefined };
  }

  /** Drops keys retired longer ago than `retainMs`; answers their kids. */
  async prune(retainMs: number): Promise<string[]> {
    return this.#rows.prune(this.#now() - retainMs);
  }

  async list(): Promise<SigningKeyInfo[]> {
    return (await this.#rows.list()).map((r) => ({
      kid: r.kid,
      alg: r.alg as SigningAlg,
      createdAt: r.created_at,
      retiredAt: r.retired_at ?? undefined,
    }));
  }

  /** Private JWKs, current key first per algorithm: oidc-provider signs with the first key that fits. */
  async privateJwks(): Promise<PrivateJwk[]> {
    return (await this.#rows.list()).map((r) => {
      let opened: string;
      try {
        opened = this.#master.open(r.sealed, r.kid);
      } catch {
        // Said by where the keys are: on PostgreSQL the usual cause is instances with a key file each in their own
        // data dir; in a data dir, a key setting changed (or the key file replaced) since the keys were made.
        throw new StartupError(
          this.#shared
            ? `signing key ${r.kid} in the PostgreSQL database was sealed with another key-encryption key: every auth server sharing a database needs the same --key-encryption-key (AUTH_KEY_ENCRYPTION_KEY)`
            : `signing key ${r.kid} in the data dir was sealed with another key-encryption key: start with the one it was stored with (--key-encryption-key / AUTH_KEY_ENCRYPTION_KEY, or the data dir's auth-master.key when that is unset)`,
        );
      }
      return JSON.parse(opened) as PrivateJwk;
    });
  }
}
