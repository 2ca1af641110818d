// The token signing keys, stored sealed: the current one, retired ones still published, rotation.
import { generateKeyPairSync, randomUUID, type JsonWebKey } from 'node:crypto';
import type { Db } from '../store/db.ts';
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

interface Row {
  kid: string;
  alg: string;
  sealed: string;
  created_at: number;
  retired_at: number | null;
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
  readonly #db: Db;
  readonly #master: MasterKey;
  readonly #now: () => number;

  constructor(options: { db: Db; master: MasterKey; now?: () => number }) {
    this.#db = options.db;
    this.#master = options.master;
    this.#now = options.now ?? Date.now;
  }

  /** Makes the first key on first start, or a new one when the configured algorithm changed. */
  ensureCurrent(alg: SigningAlg): void {
    const current = this.list().find((k) => k.retiredAt === undefined);
    if (current === undefined || current.alg !== alg) this.rotate(alg);
  }

  /** Adds a new current key and retires the previous one (it stays published until its tokens expire). */
  rotate(alg: SigningAlg): SigningKeyInfo {
    const jwk = generate(alg);
    const now = this.#now();
    this.#db.transaction(() => {
      this.#db.prepare('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL').run(now);
      this.#db
        .prepare('INSERT INTO signing_keys (kid, alg, sealed, created_at, retired_at) VALUES (?, ?, ?, ?, NULL)')
        .run(jwk.kid, alg, this.#master.seal(JSON.stringify(jwk), jwk.kid), now);
    })();
    return { kid: jwk.kid, alg, createdAt: now, retiredAt: undefined };
  }

  /** Drops keys retired longer ago than `retainMs`; answers their kids. */
  prune(retainMs: number): string[] {
    const cutoff = this.#now() - retainMs;
    const old = this.#db
      .prepare<[number], { kid: string }>(
        'SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= ?',
      )
      .all(cutoff)
      .map((r) => r.kid);
    this.#db.prepare('DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at <= ?').run(cutoff);
    return old;
  }

  list(): SigningKeyInfo[] {
    return this.#rows().map((r) => ({
      kid: r.kid,
      alg: r.alg as SigningAlg,
      createdAt: r.created_at,
      retiredAt: r.retired_at ?? undefined,
    }));
  }

  /** Private JWKs, current key first per algorithm: oidc-provider signs with the first key that fits. */
  privateJwks(): PrivateJwk[] {
    return this.#rows().map((r) => JSON.parse(this.#master.open(r.sealed, r.kid)) as PrivateJwk);
  }

  #rows(): Row[] {
    return this.#db
      .prepare<[], Row>('SELECT * FROM signing_keys ORDER BY retired_at IS NOT NULL, created_at DESC')
      .all();
  }
}
