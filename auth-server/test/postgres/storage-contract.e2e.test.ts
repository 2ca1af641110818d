// One contract for the auth server's state, run against both stores: SQLite (the default) and PostgreSQL.
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openAuthStore, type AuthStore } from '../../src/data-dir.ts';
import { createAdapterClass } from '../../src/store/oidc-storage.ts';
import { postgresForThisFile, SHARED_KEY } from './helpers.ts';

const { dir, pg } = postgresForThisFile();
let databases = 0;

interface Opened {
  readonly store: AuthStore;
  readonly advance: (ms: number) => void;
}

/** A fresh store per test: a new SQLite data dir, or a new PostgreSQL database. */
const backends: [string, () => Promise<Opened>][] = [
  [
    'SQLite',
    async () => {
      let now = 1_000_000;
      const store = await openAuthStore({
        dataDir: `${dir.path}/sqlite-${++databases}`,
        keyEncryptionKey: SHARED_KEY,
        clock: { now: () => now },
      });
      return { store, advance: (ms) => void (now += ms) };
    },
  ],
  [
    'PostgreSQL',
    async () => {
      let now = 1_000_000;
      const databaseUrl = await pg().createDatabase(`contract_${++databases}`);
      const store = await openAuthStore({
        dataDir: dir.path,
        databaseUrl,
        keyEncryptionKey: SHARED_KEY,
        clock: { now: () => now },
      });
      return { store, advance: (ms) => void (now += ms) };
    },
  ],
];

describe.each(backends)('the auth state on %s', (_name, open) => {
  const replayed = (model: string) => Object.assign(new Error(`${model} already used`), { replayed: true });
  async function adapter() {
    const opened = await open();
    const Adapter = createAdapterClass(opened.store.storage, opened.store.clients, replayed);
    return { ...opened, Adapter };
  }

  it('keeps oidc-provider models until they expire, apart by model, found by uid and user code', async () => {
    const { store, Adapter, advance } = await adapter();
    try {
      const tokens = new Adapter('AccessToken');
      await tokens.upsert('t1', { jti: 't1', grantId: 'g1', nested: { a: [1, 'two'] } }, 60);
      await new Adapter('RefreshToken').upsert('t1', { kind: 'refresh' }, 60);
      expect(await tokens.find('t1')).toEqual({ jti: 't1', grantId: 'g1', nested: { a: [1, 'two'] } });
      await new Adapter('Session').upsert('s1', { uid: 'u-1', accountId: 'alice' }, 60);
      await new Adapter('DeviceCode').upsert('d1', { userCode: 'ABCD-EFGH' }, 60);
      expect((await new Adapter('Session').findByUid('u-1'))?.accountId).toBe('alice');
      expect(await new Adapter('DeviceCode').findByUserCode('ABCD-EFGH')).toEqual({ userCode: 'ABCD-EFGH' });
      expect(await new Adapter('Session').findByUserCode('ABCD-EFGH')).toBeUndefined();
      advance(59_000);
      expect(await tokens.find('t1')).toBeDefined();
      advance(1_000);
      expect(await tokens.find('t1')).toBeUndefined();
      await new Adapter('Session').upsert('forever', {}, undefined);
      expect(await store.storage.removeExpired()).toBe(4);
      expect(await new Adapter('Session').find('forever')).toEqual({});
    } finally {
      await store.close();
    }
  });

  it('revokes every model of a grant, destroys one entry, and keeps revocations of JWTs', async () => {
    const { store, Adapter } = await adapter();
    try {
      await new Adapter('AccessToken').upsert('a', { grantId: 'g1' }, 60);
      await new Adapter('RefreshToken').upsert('r', { grantId: 'g1' }, 60);
      await new Adapter('RefreshToken').upsert('other', { grantId: 'g2' }, 60);
      await new Adapter('Grant').revokeByGrantId('g1');
      expect(await new Adapter('AccessToken').find('a')).toBeUndefined();
      expect(await new Adapter('RefreshToken').find('r')).toBeUndefined();
      await new Adapter('RefreshToken').destroy('other');
      expect(await new Adapter('RefreshToken').find('other')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('consumes once: of parallel uses of one refresh token one goes on, the others end its grant', async () => {
    const { store, Adapter } = await adapter();
    try {
      const refresh = new Adapter('RefreshToken');
      await refresh.upsert('rt', { jti: 'rt', grantId: 'g9' }, 60);
      await new Adapter('Grant').upsert('g9', { jti: 'g9' }, 60);
      await new Adapter('AccessToken').upsert('at', { grantId: 'g9' }, 60);
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => refresh.consume('rt')));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      for (const o of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
        expect(o.reason).toMatchObject({ replayed: true });
      }
      expect(await new Adapter('Grant').find('g9')).toBeUndefined();
      expect(await new Adapter('AccessToken').find('at')).toBeUndefined();
      // A model that is not a grant source is simply marked again.
      await new Adapter('PushedAuthorizationRequest').upsert('par', {}, 60);
      await new Adapter('PushedAuthorizationRequest').consume('par');
      await expect(new Adapter('PushedAuthorizationRequest').consume('par')).resolves.toBeUndefined();
      expect((await new Adapter('PushedAuthorizationRequest').find('par'))?.consumed).toBe(1000);
    } finally {
      await store.close();
    }
  });

  it('registers, rotates and removes clients, secrets kept as keyed hashes', async () => {
    const { store } = await open();
    try {
      const created = await store.clients.create({ client_id: 'batch', scope: 'product:read' });
      expect(created.client).toMatchObject({ client_id: 'batch', scope: 'product:read' });
      await expect(store.clients.create({ client_id: 'batch' })).rejects.toMatchObject({ code: 'client_exists' });
      expect(await store.clients.verifySecret('batch', created.client_secret ?? '')).toBe(true);
      expect((await store.clients.findMetadata('batch'))?.client_secret).toMatch(/^hmac-sha256\$/);
      const rotated = await store.clients.rotateSecret('batch');
      expect(await store.clients.verifySecret('batch', created.client_secret ?? '')).toBe(false);
      expect(await store.clients.verifySecret('batch', rotated)).toBe(true);
      const registered = await store.clients.register(
        store.clients.prepareRegistration({ redirect_uris: ['https://app.example/cb'] }),
      );
      expect(
        await store.clients.verifyRegistrationToken(registered.client_id, registered.registration_access_token ?? ''),
      ).toBe(true);
      const updated = await store.clients.update(registered.client_id, {
        ...store.clients.prepareRegistration({ redirect_uris: ['https://app.example/other'] }),
        client_id: registered.client_id,
      });
      expect(updated.redirect_uris).toEqual(['https://app.example/other']);
      expect((await store.clients.list()).map((c) => c.client_id)).toEqual(['batch', registered.client_id].sort());
      await store.clients.remove('batch');
      await expect(store.clients.remove('batch')).rejects.toMatchObject({ code: 'unknown_client' });
      expect(await store.clients.find('batch')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('adds, authenticates and removes users', async () => {
    const { store } = await open();
    try {
      await store.users.add({ username: 'alice', password: 'alice-password', email: 'alice@example.org' });
      await expect(store.users.add({ username: 'alice', password: 'another-one' })).rejects.toMatchObject({
        code: 'user_exists',
      });
      expect(await store.users.authenticate('alice', 'alice-password')).toBe('alice');
      expect(await store.users.authenticate('alice', 'wrong-password')).toBeUndefined();
      expect(await store.users.list()).toEqual([
        expect.objectContaining({ username: 'alice', email: 'alice@example.org' }),
      ]);
      await store.users.remove('alice');
      expect(await store.users.find('alice')).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('keeps one current signing key, sealed; rotation retires the old one until its retention ends', async () => {
    const { store, advance } = await open();
    try {
      await Promise.all([store.keys.ensureCurrent('RS256'), store.keys.ensureCurrent('RS256')]);
      const [first] = await store.keys.list();
      expect(await store.keys.list()).toHaveLength(1);
      advance(1000);
      const second = await store.keys.rotate('ES256');
      const jwks = await store.keys.privateJwks();
      expect(jwks.map((k) => k.kid)).toEqual([second.kid, first?.kid]);
      expect(() => createPrivateKey({ key: { ...jwks[0] }, format: 'jwk' })).not.toThrow();
      expect((await store.keys.list())[1]?.retiredAt).toBe(1_001_000);
      advance(5000);
      expect(await store.keys.prune(5000)).toEqual([first?.kid]);
      expect((await store.keys.list()).map((k) => k.kid)).toEqual([second.kid]);
    } finally {
      await store.close();
    }
  });
});
