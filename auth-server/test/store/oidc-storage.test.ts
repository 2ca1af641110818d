import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.ts';
import { createAdapterClass, createSqliteStorage } from '../../src/store/oidc-storage.ts';

function setup() {
  let now = 1_000_000;
  const clock = { now: () => now };
  const storage = createSqliteStorage(openDatabase(':memory:'), clock);
  const Adapter = createAdapterClass(storage, {
    findMetadata: (id) => Promise.resolve(id === 'known' ? { client_id: 'known' } : undefined),
  });
  return { storage, Adapter, advance: (ms: number) => void (now += ms) };
}

describe('SQLite oidc-provider adapter', () => {
  it('finds what it stored until it expires', async () => {
    const { Adapter, advance } = setup();
    const tokens = new Adapter('AccessToken');
    await tokens.upsert('t1', { jti: 't1', grantId: 'g1' }, 60);
    expect(await tokens.find('t1')).toEqual({ jti: 't1', grantId: 'g1' });
    advance(59_000);
    expect(await tokens.find('t1')).toBeDefined();
    advance(1_000);
    expect(await tokens.find('t1')).toBeUndefined();
  });

  it('keeps models apart under one id', async () => {
    const { Adapter } = setup();
    await new Adapter('AccessToken').upsert('same', { kind: 'AccessToken' }, 60);
    await new Adapter('RefreshToken').upsert('same', { kind: 'RefreshToken' }, 60);
    expect(await new Adapter('AccessToken').find('same')).toEqual({ kind: 'AccessToken' });
  });

  it('marks consumed entries so a replayed code is recognised', async () => {
    const { Adapter } = setup();
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('c1', { jti: 'c1' }, 60);
    await codes.consume('c1');
    expect((await codes.find('c1'))?.consumed).toBe(1000);
  });

  it('revokes every model of a grant and nothing else', async () => {
    const { Adapter } = setup();
    await new Adapter('AccessToken').upsert('a', { grantId: 'g1' }, 60);
    await new Adapter('RefreshToken').upsert('r', { grantId: 'g1' }, 60);
    await new Adapter('RefreshToken').upsert('other', { grantId: 'g2' }, 60);
    await new Adapter('Grant').revokeByGrantId('g1');
    expect(await new Adapter('AccessToken').find('a')).toBeUndefined();
    expect(await new Adapter('RefreshToken').find('r')).toBeUndefined();
    expect(await new Adapter('RefreshToken').find('other')).toBeDefined();
  });

  it('finds sessions by uid and device codes by user code', async () => {
    const { Adapter } = setup();
    await new Adapter('Session').upsert('s1', { uid: 'u-1', accountId: 'alice' }, 60);
    await new Adapter('DeviceCode').upsert('d1', { userCode: 'ABCD-EFGH' }, 60);
    expect((await new Adapter('Session').findByUid('u-1'))?.accountId).toBe('alice');
    expect(await new Adapter('DeviceCode').findByUserCode('ABCD-EFGH')).toEqual({ userCode: 'ABCD-EFGH' });
    expect(await new Adapter('Session').findByUserCode('ABCD-EFGH')).toBeUndefined();
  });

  it('destroys one entry, and the sweep deletes only expired ones', async () => {
    const { storage, Adapter, advance } = setup();
    const tokens = new Adapter('AccessToken');
    await tokens.upsert('short', {}, 10);
    await tokens.upsert('long', {}, 100);
    await tokens.upsert('gone', {}, 100);
    await tokens.destroy('gone');
    expect(await tokens.find('gone')).toBeUndefined();
    advance(10_000);
    expect(storage.removeExpired()).toBe(1);
    expect(await tokens.find('long')).toBeDefined();
  });

  it('reads clients from the registry and refuses to write them', async () => {
    const { Adapter } = setup();
    const clients = new Adapter('Client');
    expect(await clients.find('known')).toEqual({ client_id: 'known' });
    expect(await clients.find('unknown')).toBeUndefined();
    await expect(clients.upsert('x', {}, undefined)).rejects.toThrow(/admin API/);
  });
});
