// What the write API refuses before anything is stored, alike on PostgreSQL (jdbc) and SQLite: text no database
// keeps as sent (NUL, lone surrogates), and the mask that listings show in place of a secret, written back.
import { startPostgresServer, type PostgresServer } from '@trellis/kit/postgres-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConfigServer, tempRepo } from '../helpers.ts';
import { historyOf, OPS, propertiesOf, putProperties } from './helpers.ts';

let db: PostgresServer;
const servers = new Map<string, { url: string; stop: () => Promise<void> }>();

async function start(name: string, env: Record<string, string>): Promise<void> {
  const repo = tempRepo({});
  const data = tempRepo({});
  const { running, url } = await startConfigServer({
    repo: repo.root,
    dataDir: data.root,
    env: { CONFIG_ADMINS: 'ops:ops-secret-1:*', ...env },
  });
  servers.set(name, {
    url,
    stop: async () => {
      await running.stop();
      repo.remove();
      data.remove();
    },
  });
}

beforeAll(async () => {
  db = await startPostgresServer();
  await Promise.all([
    start('jdbc', { CONFIG_BACKENDS: 'jdbc', TRELLIS_DATABASE_URL: await db.createDatabase('admin_input') }),
    start('sqlite', { CONFIG_BACKENDS: 'sqlite' }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.stop()));
  await db.close();
});

const base = (store: string): string => servers.get(store)?.url ?? '';

describe.each(['jdbc', 'sqlite'])('the %s store', (store) => {
  const scope = 'kvtest/default/master';

  it.each([
    ['a NUL in a value', '{"k2":"a\\u0000b"}', 'the value of k2 must not contain a NUL character'],
    ['a NUL in a key', '{"k\\u0000":"v"}', 'property names must not contain a NUL character'],
    ['a lone high surrogate in a value', '{"k2":"a\\ud800b"}', 'the value of k2 must not contain a lone surrogate'],
    ['a lone low surrogate at the end of a value', '{"k2":"a\\udc00"}', 'must not contain a lone surrogate'],
    ['a lone surrogate in a key', '{"k\\ud800":"v"}', 'property names must not contain a lone surrogate'],
  ])('answers 400 for %s, storing nothing of the write', async (_what, body, reason) => {
    expect((await putProperties(base(store), scope, { keep: 'me' })).status).toBe(200);
    const before = await historyOf(base(store), scope);
    const res = await fetch(`${base(store)}/admin/properties/${scope}`, {
      method: 'PUT',
      headers: { ...OPS, 'content-type': 'application/json' },
      body: `${body.slice(0, -1)},"other":"x"}`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain(reason);
    expect(await propertiesOf(base(store), scope)).toEqual({ keep: 'me' });
    expect(await historyOf(base(store), scope)).toEqual(before);
  });

  it('refuses the mask written back for a secret, keeping the secret, and masks URL passwords', async () => {
    const path = 'masked/default/master';
    const url = 'jdbc:postgresql://u:pw@h/db';
    expect((await putProperties(base(store), path, { 'db.password': 'hunter2', 'db.url': url })).status).toBe(200);
    const listed = await propertiesOf(base(store), path);
    expect(listed).toEqual({ 'db.password': '******', 'db.url': 'jdbc:postgresql://u:******@h/db' });
    const res = await putProperties(base(store), path, listed);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain('send the real value or leave the key out');
    expect(await historyOf(base(store), path)).toHaveLength(1);
    const served = (await (await fetch(`${base(store)}/masked/default`)).json()) as {
      propertySources: { source: Record<string, string> }[];
    };
    expect(served.propertySources[0]?.source).toEqual({ 'db.password': 'hunter2', 'db.url': url });
  });

  it('stores a value with a surrogate pair (an emoji) and other characters unchanged', async () => {
    const value = 'caf\u00e9 \u{1F600} \u2028 tab\tend';
    expect((await putProperties(base(store), scope, { emoji: value })).status).toBe(200);
    expect((await propertiesOf(base(store), scope)).emoji).toBe(value);
  });
});
