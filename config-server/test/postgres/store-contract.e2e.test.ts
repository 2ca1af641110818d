// The property store's contract, held by the SQLite store and the PostgreSQL one alike, and what only PostgreSQL adds.
import { openPostgres, redactDatabaseUrl } from '@trellis/kit';
import { startPostgresServer, type PostgresServer } from '@trellis/kit/postgres-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJdbcBackend } from '../../src/backends/jdbc.ts';
import { CHANGES_CHANNEL, openPostgresPropertyStore } from '../../src/store/postgres.ts';
import {
  NoSuchChangeError,
  openPropertyStore,
  type PropertyScope,
  type PropertyStore,
} from '../../src/store/properties.ts';
import { silentLogger } from '../helpers.ts';

let db: PostgresServer;
let databases = 0;

beforeAll(async () => {
  db = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  await db.close();
});

/** A fresh store on a fresh database (or in-memory file), with a clock that ticks a second per write. */
type Open = () => Promise<{ store: PropertyStore; url?: string }>;

function ticking(): () => Date {
  let time = Date.parse('2026-01-01T00:00:00Z');
  return () => new Date((time += 1000));
}

const STORES: [string, Open][] = [
  ['SQLite', () => Promise.resolve({ store: openPropertyStore({ file: ':memory:', clock: ticking() }) })],
  [
    'PostgreSQL',
    async () => {
      const url = await db.createDatabase(`contract_${++databases}`);
      return { store: await openPostgresPropertyStore({ url, logger: silentLogger(), clock: ticking() }), url };
    },
  ],
];

const product: PropertyScope = { application: 'product', profile: 'default', label: 'master' };
const review: PropertyScope = { application: 'review', profile: 'default', label: 'master' };

describe.each(STORES)('the %s property store', (_name, open) => {
  let store: PropertyStore;
  beforeAll(async () => {
    ({ store } = await open());
  });
  afterAll(async () => {
    await store.close();
  });

  it('reads rows in insertion order; an update keeps its place, a no-op records nothing', async () => {
    const scope = { ...product, label: 'order' };
    const first = await store.write({ scope, set: { b: '1', a: '2', c: '3' }, actor: 'ops' });
    expect(first).toMatchObject({ kind: 'put', actor: 'ops', rollbackTo: null, ...scope });
    expect(first?.changes).toEqual([
      { key: 'b', old: null, new: '1' },
      { key: 'a', old: null, new: '2' },
      { key: 'c', old: null, new: '3' },
    ]);
    expect(first?.at).toMatch(/^2026-01-01T00:00:\d\d\.000Z$/);
    await store.write({ scope, set: { a: '20', d: '4' }, actor: 'ops' });
    expect(await store.read(scope)).toEqual([
      ['b', '1'],
      ['a', '20'],
      ['c', '3'],
      ['d', '4'],
    ]);
    expect(await store.write({ scope, set: { a: '20' }, remove: ['nope'], actor: 'ops' })).toBeUndefined();
    const removed = await store.write({ scope, remove: ['b'], actor: 'ops' });
    expect(removed).toMatchObject({ kind: 'delete', changes: [{ key: 'b', old: '1', new: null }] });
    expect((await store.read(scope)).map(([k]) => k)).toEqual(['a', 'c', 'd']);
    expect(await store.history({ scope })).toHaveLength(3);
    expect(await store.count()).toBeGreaterThanOrEqual(3);
  });

  it('lists history newest first, per scope or overall, with exact old → new and a limit', async () => {
    const a = await store.write({ scope: product, set: { port: '1' }, actor: 'alice' });
    const b = await store.write({ scope: review, set: { port: '9' }, actor: 'bob' });
    const c = await store.write({ scope: product, set: { port: '2', host: 'h' }, actor: 'alice' });
    const mine = await store.history({ scope: product });
    expect(mine.map((ch) => ch.id)).toEqual([c?.id, a?.id]);
    expect(mine[0]).toEqual(c);
    expect(mine[0]?.changes).toEqual([
      { key: 'port', old: '1', new: '2' },
      { key: 'host', old: null, new: 'h' },
    ]);
    const all = await store.history({ limit: 2 });
    expect(all.map((ch) => ch.id)).toEqual([c?.id, b?.id]);
    expect(all[1]).toMatchObject({ application: 'review', actor: 'bob', changes: [{ key: 'port', new: '9' }] });
  });

  it('rolls back to a change, to before the first one, and refuses another scope’s change', async () => {
    const scope = { ...product, label: 'rollback' };
    const one = await store.write({ scope, set: { x: '1', y: '1' }, actor: 'ops' });
    await store.write({ scope, set: { x: '2', z: '2' }, remove: ['y'], actor: 'ops' });
    const back = await store.rollback(scope, one?.id ?? -1, 'boss');
    expect(back).toMatchObject({ kind: 'rollback', rollbackTo: one?.id, actor: 'boss' });
    expect([...(back?.changes ?? [])].sort((p, q) => p.key.localeCompare(q.key))).toEqual([
      { key: 'x', old: '2', new: '1' },
      { key: 'y', old: null, new: '1' },
      { key: 'z', old: '2', new: null },
    ]);
    expect(Object.fromEntries(await store.read(scope))).toEqual({ x: '1', y: '1' });
    // Already there: nothing to record.
    expect(await store.rollback(scope, one?.id ?? -1, 'boss')).toBeUndefined();
    await store.rollback(scope, 0, 'boss');
    expect(await store.read(scope)).toEqual([]);
    const elsewhere = await store.write({ scope: review, set: { q: '1' }, actor: 'ops' });
    await expect(store.rollback(scope, elsewhere?.id ?? -1, 'boss')).rejects.toBeInstanceOf(NoSuchChangeError);
    await expect(store.rollback(scope, 99_999_999, 'boss')).rejects.toBeInstanceOf(NoSuchChangeError);
  });

  it('serves sources in Spring’s JDBC order: applications, then profiles, most specific first', async () => {
    const label = 'spring';
    for (const [application, profile] of [
      ['application', 'default'],
      ['application', 'docker'],
      ['product', 'default'],
      ['product', 'docker'],
      ['other', 'docker'],
    ] as const) {
      await store.write({
        scope: { application, profile, label },
        set: { who: `${application}-${profile}` },
        actor: 't',
      });
    }
    const backend = createJdbcBackend({ store, defaultLabel: label });
    const env = await backend.findOne({ applications: ['product'], profiles: ['docker'] });
    expect(env.propertySources.map((s) => [s.name, s.source.who])).toEqual([
      ['product-docker', 'product-docker'],
      ['product-default', 'product-default'],
      ['application-docker', 'application-docker'],
      ['application-default', 'application-default'],
    ]);
    expect(env).toMatchObject({ label, version: null });
    const unknown = await backend.findOne({ applications: ['product'], profiles: ['docker'], label: 'nope' });
    expect(unknown.propertySources).toEqual([]);
    expect((await backend.health()).status).toBe('UP');
  });

  it('tells subscribers the scope of each committed write, and nothing for a no-op', async () => {
    const heard: (PropertyScope | undefined)[] = [];
    const off = store.subscribe((s) => heard.push(s));
    await store.write({ scope: review, set: { told: '1' }, actor: 't' });
    await store.write({ scope: review, set: { told: '1' }, actor: 't' });
    off();
    await store.write({ scope: review, set: { told: '2' }, actor: 't' });
    // Give another instance's notification (there is none) a moment to arrive, so a double would show.
    await new Promise((r) => setTimeout(r, 200));
    expect(heard).toEqual([review]);
  });
});

describe('the PostgreSQL property store', () => {
  it('keeps a PROPERTIES table Spring’s JdbcEnvironmentRepository reads with its own query', async () => {
    const url = await db.createDatabase('spring_query');
    const store = await openPostgresPropertyStore({ url, logger: silentLogger() });
    const pool = openPostgres(url);
    try {
      await store.write({ scope: product, set: { 'server.port': '7001', value: 'v' }, actor: 't' });
      // JdbcEnvironmentRepository's DEFAULT_SQL, placeholders in PostgreSQL's spelling.
      const { rows } = await pool.query(
        'SELECT KEY, VALUE from PROPERTIES where APPLICATION=$1 and PROFILE=$2 and LABEL=$3',
        ['product', 'default', 'master'],
      );
      expect(rows).toEqual([
        { key: 'server.port', value: '7001' },
        { key: 'value', value: 'v' },
      ]);
      // A row put there the way a Spring shop fills the table is served too.
      await pool.query(
        "INSERT INTO PROPERTIES (APPLICATION, PROFILE, LABEL, KEY, VALUE) VALUES ('product', 'default', 'master', 'by.hand', 'yes')",
      );
      expect(Object.fromEntries(await store.read(product))).toMatchObject({ 'by.hand': 'yes' });
    } finally {
      await pool.end();
      await store.close();
    }
  });

  it('tells a second instance on the database of each write, and everyone of a bare NOTIFY', async () => {
    const url = await db.createDatabase('two_instances');
    const a = await openPostgresPropertyStore({ url, logger: silentLogger() });
    const b = await openPostgresPropertyStore({ url, logger: silentLogger() });
    const pool = openPostgres(url);
    const heardA: (PropertyScope | undefined)[] = [];
    const heardB: (PropertyScope | undefined)[] = [];
    a.subscribe((s) => heardA.push(s));
    b.subscribe((s) => heardB.push(s));
    const until = async (check: () => boolean): Promise<void> => {
      for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    try {
      await a.write({ scope: product, set: { port: '1' }, actor: 't' });
      await until(() => heardB.length > 0);
      expect(heardB).toEqual([product]);
      expect(await b.read(product)).toEqual([['port', '1']]);
      // A DBA who edits the table by hand can wake every watcher.
      await pool.query(`NOTIFY ${CHANGES_CHANNEL}`);
      await until(() => heardA.length > 1 && heardB.length > 1);
      expect(heardA).toEqual([product, undefined]);
      expect(heardB).toEqual([product, undefined]);
    } finally {
      await pool.end();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('shows where the data is in health without the password', async () => {
    const url = await db.createDatabase('health');
    const store = await openPostgresPropertyStore({ url, logger: silentLogger() });
    try {
      await store.write({ scope: product, set: { a: '1', b: '2' }, actor: 't' });
      const health = await store.health();
      expect(health).toEqual({
        status: 'UP',
        details: {
          backend: 'jdbc',
          database: 'postgresql',
          url: redactDatabaseUrl(url),
          properties: 2,
          listening: true,
        },
      });
      const password = new URL(url).password;
      expect(password.length).toBeGreaterThan(0);
      expect(JSON.stringify(health)).not.toContain(password);
    } finally {
      await store.close();
    }
  });
});
