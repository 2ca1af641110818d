import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createAccessControl } from '../../src/access/clients.ts';
import { createApp } from '../../src/app.ts';
import { createSqliteBackend } from '../../src/backends/jdbc.ts';
import type { BackendChange } from '../../src/backends/types.ts';
import { openPropertyStore, type PropertyStore } from '../../src/store/properties.ts';
import { silentLogger, type EnvJson } from '../helpers.ts';

const OPS = `Basic ${Buffer.from('ops:ops-secret-1').toString('base64')}`;
const PRODUCT_ADMIN = `Basic ${Buffer.from('pa:product-secret').toString('base64')}`;
const admins = createAccessControl([
  { id: 'ops', secret: 'ops-secret-1', applications: ['*'] },
  { id: 'pa', secret: 'product-secret', applications: ['product'] },
]);

let store: PropertyStore;
let app: ReturnType<typeof createApp>;
let backend: ReturnType<typeof createSqliteBackend>;
let time = 0;

beforeEach(() => {
  time = Date.parse('2026-01-01T00:00:00Z');
  store = openPropertyStore({ file: ':memory:', clock: () => new Date((time += 1000)) });
  backend = createSqliteBackend({ store });
  app = createApp({ logger: silentLogger(), backend, store, admins });
});
afterAll(() => store.close());

interface ChangeJson {
  id: number;
  actor: string;
  at: string;
  kind: string;
  rollbackTo?: number;
  changes: { key: string; old: string | null; new: string | null }[];
}

// `null` sends no credential (undefined would pick the default).
const send = (method: string, path: string, body?: unknown, auth: string | null = OPS): Promise<Response> =>
  Promise.resolve(
    app.request(path, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(auth === null ? {} : { authorization: auth }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    }),
  );
const put = async (path: string, body: unknown, auth?: string): Promise<ChangeJson | null> => {
  const res = await send('PUT', path, body, auth);
  expect(res.status).toBe(200);
  return ((await res.json()) as { change: ChangeJson | null }).change;
};
const env = async (path: string): Promise<EnvJson> => {
  const res = await app.request(path);
  expect(res.status).toBe(200);
  return (await res.json()) as EnvJson;
};
const history = async (path = '/admin/history'): Promise<ChangeJson[]> => {
  const res = await send('GET', path);
  expect(res.status).toBe(200);
  return ((await res.json()) as { changes: ChangeJson[] }).changes;
};

describe('PUT /admin/properties/{application}/{profile}/{label}', () => {
  it('writes properties that the Environment API serves under Spring JDBC source names and order', async () => {
    await put('/admin/properties/application/default/master', { shared: 'all', port: 1 });
    await put('/admin/properties/product/default/master', { port: 7001, 'feature.enabled': true });
    await put('/admin/properties/product/docker/master', { port: '8080' });
    await put('/admin/properties/review/docker/master', { port: '9999' });
    await put('/admin/properties/product/docker/v2', { port: '9090' });

    const found = await env('/product/docker');
    expect(found.label).toBe('master');
    expect(found.version).toBeNull();
    expect(found.propertySources).toEqual([
      { name: 'product-docker', source: { port: '8080' } },
      { name: 'product-default', source: { port: '7001', 'feature.enabled': 'true' } },
      { name: 'application-default', source: { shared: 'all', port: '1' } },
    ]);
    expect((await env('/product/docker/v2')).propertySources.map((s) => s.source.port)).toEqual(['9090']);
  });

  it('records who changed what from which old value, and only real changes', async () => {
    const a = await put('/admin/properties/product/default/master', { port: '1', 'db.password': 'hunter2' });
    const b = await put('/admin/properties/product/default/master', { port: '2', 'db.password': 'hunter2' });
    expect(await put('/admin/properties/product/default/master', { port: '2' })).toBeNull();
    expect(a?.changes).toEqual([
      { key: 'port', old: null, new: '1' },
      // Sensitive keys are masked in every answer, also right after the write.
      { key: 'db.password', old: null, new: '******' },
    ]);
    expect(b?.changes).toEqual([{ key: 'port', old: '1', new: '2' }]);
    expect(b?.actor).toBe('ops');
    expect(b?.kind).toBe('put');

    const listed = await history('/admin/history/product/default/master');
    expect(listed.map((c) => c.id)).toEqual([b?.id, a?.id]);
    expect(listed[1]?.at).toBe('2026-01-01T00:00:01.000Z');
    expect(JSON.stringify(listed)).not.toContain('hunter2');
  });

  it('refuses the mask written back for a masked key (400, the secret kept), and stores it for a plain key', async () => {
    const path = '/admin/properties/product/default/master';
    await put(path, { 'db.password': 'hunter2', 'spring.datasource.url': 'jdbc:postgresql://u:pw@h/db' });
    const listed = (await (await send('GET', path)).json()) as { properties: Record<string, string> };
    expect(listed.properties).toEqual({
      'db.password': '******',
      'spring.datasource.url': 'jdbc:postgresql://u:******@h/db',
    });
    // What the listing showed, sent back as is: refused, nothing stored, nothing recorded.
    for (const body of [{ 'db.password': '******' }, listed.properties, { other: 'x', 'api.token': '******' }]) {
      const res = await send('PUT', path, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(
        /is the mask \*{6} that listings show in its place; send the real value or leave the key out/,
      );
    }
    expect(await store.read({ application: 'product', profile: 'default', label: 'master' })).toEqual([
      ['db.password', 'hunter2'],
      ['spring.datasource.url', 'jdbc:postgresql://u:pw@h/db'],
    ]);
    expect(await history()).toHaveLength(1);
    // Not masked, so the mask is an ordinary value there; a real new password is taken.
    expect((await put(path, { 'greeting.text': '******', 'db.password': 'n3w' }))?.changes).toEqual([
      { key: 'greeting.text', old: null, new: '******' },
      { key: 'db.password', old: '******', new: '******' },
    ]);
  });

  it('masks the password in URL values in listings and history, leaving the rest and served values as they are', async () => {
    const path = '/admin/properties/product/default/master';
    const urls = {
      'spring.datasource.url': 'jdbc:postgresql://app:s3cr%40t@db.example:5432/product?ssl=true',
      'spring.rabbitmq.addresses': 'amqp://guest:p@ss@rabbit:5672',
      'login.page': 'https://user@example.com/x?next=https://a:b@c',
      'plain.url': 'https://example.com:8443/path?a=b@c',
    };
    const change = await put(path, urls);
    const expected = {
      'spring.datasource.url': 'jdbc:postgresql://app:******@db.example:5432/product?ssl=true',
      'spring.rabbitmq.addresses': 'amqp://guest:******@rabbit:5672',
      'login.page': 'https://user@example.com/x?next=https://a:******@c',
      'plain.url': 'https://example.com:8443/path?a=b@c',
    };
    expect(change?.changes.map((c) => [c.key, c.new])).toEqual(Object.entries(expected));
    const listed = (await (await send('GET', path)).json()) as { properties: Record<string, string> };
    expect(listed.properties).toEqual(expected);
    const recorded = JSON.stringify(await history());
    for (const secret of ['s3cr%40t', 'p@ss', ':b@']) expect(recorded).not.toContain(secret);
    expect((await env('/product/default')).propertySources[0]?.source).toEqual(urls);
  });

  it('masks passwords in query, `;` and libpq forms and keys named passwd, pwd, auth, credential', async () => {
    const path = '/admin/properties/product/default/master';
    const basic = `Basic ${Buffer.from('svc:b4sic-pw').toString('base64')}`;
    const values = {
      'pg.url': 'jdbc:postgresql://h/db?user=x&password=q-s3cret&ssl=true',
      'mysql.url': 'jdbc:mysql://h/db?PWD=q2-s3cret#frag',
      'mssql.url': 'jdbc:sqlserver://h;user=x;password=semi-s3cret;encrypt=true',
      'mssql.braced': 'jdbc:sqlserver://h;user=x;Password = {br;ace-s3cret};db=y',
      'libpq.dsn': 'host=h user=u password=lib-s3cret dbname=d',
      'libpq.quoted': "host=h passwd='quo ted-s3cret' dbname=d",
      'db.passwd': 'passwd-s3cret',
      pwd: 'pwd-s3cret',
      auth: basic,
      'smtp.client-credential': 'cred-s3cret',
      'plain.text': 'user=x; no secret here',
    };
    const change = await put(path, values);
    const expected = {
      'pg.url': 'jdbc:postgresql://h/db?user=x&password=******&ssl=true',
      'mysql.url': 'jdbc:mysql://h/db?PWD=******#frag',
      'mssql.url': 'jdbc:sqlserver://h;user=x;password=******;encrypt=true',
      'mssql.braced': 'jdbc:sqlserver://h;user=x;Password = ******;db=y',
      'libpq.dsn': 'host=h user=u password=****** dbname=d',
      'libpq.quoted': 'host=h passwd=****** dbname=d',
      'db.passwd': '******',
      pwd: '******',
      auth: '******',
      'smtp.client-credential': '******',
      'plain.text': 'user=x; no secret here',
    };
    expect(Object.fromEntries(change?.changes.map((c) => [c.key, c.new]) ?? [])).toEqual(expected);
    const listed = (await (await send('GET', path)).json()) as { properties: Record<string, string> };
    expect(listed.properties).toEqual(expected);
    const recorded = JSON.stringify(await history()) + JSON.stringify(listed);
    for (const secret of ['s3cret', 'b4sic', Buffer.from('svc:b4sic-pw').toString('base64')]) {
      expect(recorded).not.toContain(secret);
    }
    // What a listing showed, written back, would replace each secret with the mask: refused, the secrets kept.
    for (const [key, shown] of Object.entries(expected)) {
      if (key === 'plain.text') continue;
      const res = await send('PUT', path, { [key]: shown });
      expect(res.status, key).toBe(400);
      expect(await res.text()).toContain('is the mask');
    }
    expect((await env('/product/default')).propertySources[0]?.source).toEqual(values);
  });

  it('refuses a body that is not UTF-8 (400), storing nothing, where U+FFFD would have been stored', async () => {
    const path = '/admin/properties/product/default/master';
    for (const bad of [[0xed, 0xa0, 0x80], [0xff]]) {
      const body = Buffer.concat([Buffer.from('{"k":"a'), Buffer.from(bad), Buffer.from('b"}')]);
      const res = await app.request(path, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: OPS },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('not valid UTF-8');
    }
    const rollback = await app.request('/admin/rollback/product/default/master', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: OPS },
      body: Buffer.concat([Buffer.from('{"to":0,"x":"'), Buffer.from([0xff]), Buffer.from('"}')]),
    });
    expect(rollback.status).toBe(400);
    expect(await history()).toEqual([]);
    // Real UTF-8 is taken as it is.
    expect((await put(path, { k: 'grüße ✓' }))?.changes).toEqual([{ key: 'k', old: null, new: 'grüße ✓' }]);
  });

  it('refuses application or label path segments that are no UTF-8 once decoded (400), as the profile', async () => {
    for (const path of [
      '/admin/properties/%ED%A0%80/default/master',
      '/admin/properties/product/default/%FF',
      '/admin/properties/product/%FF/master',
      '/admin/properties/pro%E0duct/default/master',
    ]) {
      const res = await send('PUT', path, { k: 'v' });
      expect(res.status, path).toBe(400);
      expect((await send('GET', path)).status, path).toBe(400);
      expect((await send('GET', path.replace('/admin/properties/', '/admin/history/'))).status, path).toBe(400);
    }
    expect(await history()).toEqual([]);
    // A percent-escape that decodes is a name as before.
    await put('/admin/properties/pr%C3%B6duct/default/master', { k: 'v' });
    const listed = await (await send('GET', '/admin/properties/pr%C3%B6duct/default/master')).json();
    expect(listed).toEqual({ application: 'pröduct', profile: 'default', label: 'master', properties: { k: 'v' } });
  });

  it('removes keys with a null value or DELETE ?key=', async () => {
    await put('/admin/properties/product/default/master', { a: '1', b: '2', c: '3' });
    const nulled = await put('/admin/properties/product/default/master', { a: null });
    expect(nulled?.changes).toEqual([{ key: 'a', old: '1', new: null }]);
    const res = await send('DELETE', '/admin/properties/product/default/master?key=b&key=nope');
    expect(res.status).toBe(200);
    const removed = ((await res.json()) as { change: ChangeJson }).change;
    expect([removed.kind, removed.changes]).toEqual(['delete', [{ key: 'b', old: '2', new: null }]]);
    expect((await env('/product/default')).propertySources).toEqual([{ name: 'product-default', source: { c: '3' } }]);
  });

  it('tells subscribers (watch streams) after a write', async () => {
    const heard: BackendChange[] = [];
    const off = backend.subscribe((c) => heard.push(c));
    await put('/admin/properties/product/docker/master', { x: '1' });
    off();
    expect(heard).toEqual([{ paths: ['product-docker'] }]);
  });
});

describe('admin credentials', () => {
  it('answers 401 with a challenge without a credential or with a reader credential, writing nothing', async () => {
    const none = await send('PUT', '/admin/properties/product/default/master', { a: '1' }, null);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
    const wrong = `Basic ${Buffer.from('ops:not-the-secret').toString('base64')}`;
    expect((await send('PUT', '/admin/properties/product/default/master', { a: '1' }, wrong)).status).toBe(401);
    expect((await send('GET', '/admin/history', undefined, null)).status).toBe(401);
    expect((await send('POST', '/admin/rollback/product/default/master', { to: 0 }, null)).status).toBe(401);
    expect(await store.read({ application: 'product', profile: 'default', label: 'master' })).toEqual([]);
  });

  it("limits an admin to its applications: 403 for another application's properties and the global history", async () => {
    expect(await put('/admin/properties/product/default/master', { a: '1' }, PRODUCT_ADMIN)).not.toBeNull();
    expect((await send('PUT', '/admin/properties/review/default/master', { a: '1' }, PRODUCT_ADMIN)).status).toBe(403);
    expect((await send('GET', '/admin/history', undefined, PRODUCT_ADMIN)).status).toBe(403);
    expect((await history()).map((c) => c.actor)).toEqual(['pa']);
  });

  it('is off (403) when no admin credential is configured', async () => {
    const closed = createApp({ logger: silentLogger(), backend, store });
    const res = await closed.request('/admin/properties/product/default/master', {
      method: 'PUT',
      headers: { authorization: OPS },
      body: '{"a":"1"}',
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toContain('CONFIG_ADMINS');
  });
});

describe('requests a browser sends for another site (CSRF)', () => {
  const write = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    app.request(path, { method, headers: { authorization: OPS, ...headers }, ...(body === undefined ? {} : { body }) });

  it('refuses a rollback, a write or a removal with Sec-Fetch-Site cross-site or same-site: 403 with the reason', async () => {
    await put('/admin/properties/csrf/default/master', { a: '1' });
    for (const site of ['cross-site', 'same-site']) {
      const headers = { 'content-type': 'application/json', origin: 'https://evil.example', 'sec-fetch-site': site };
      const refused = [
        await write('POST', '/admin/rollback/csrf/default/master', headers, '{"to":0}'),
        await write('PUT', '/admin/properties/csrf/default/master', headers, '{"a":"2"}'),
        await write('DELETE', '/admin/properties/csrf/default/master?key=a', headers),
      ];
      for (const res of refused) {
        expect(res.status).toBe(403);
        expect(((await res.json()) as { message: string }).message).toContain(`Sec-Fetch-Site: ${site}`);
      }
    }
    expect(await store.read({ application: 'csrf', profile: 'default', label: 'master' })).toEqual([['a', '1']]);
    expect(await history()).toHaveLength(1);
  });

  it('refuses a write body that is not application/json with 415 and the reason, as a page could send it unasked', async () => {
    await put('/admin/properties/csrf/default/master', { a: '1' });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      for (const [method, path, body] of [
        ['POST', '/admin/rollback/csrf/default/master', '{"to":0}'],
        ['PUT', '/admin/properties/csrf/default/master', '{"a":"2"}'],
      ] as const) {
        const res = await write(method, path, { 'content-type': type }, body);
        expect(res.status).toBe(415);
        expect(((await res.json()) as { message: string }).message).toContain('Content-Type: application/json');
      }
    }
    expect((await write('PUT', '/admin/properties/csrf/default/master', {}, '{"a":"2"}')).status).toBe(415);
    expect(await history()).toHaveLength(1);
  });

  it('accepts same-origin and non-browser writes in JSON (charset allowed)', async () => {
    const json = { 'content-type': 'application/json; charset=utf-8' };
    expect((await write('PUT', '/admin/properties/csrf/default/master', json, '{"a":"1"}')).status).toBe(200);
    const sameOrigin = { ...json, 'sec-fetch-site': 'same-origin' };
    expect((await write('PUT', '/admin/properties/csrf/default/master', sameOrigin, '{"a":"2"}')).status).toBe(200);
    expect((await write('POST', '/admin/rollback/csrf/default/master', sameOrigin, '{"to":0}')).status).toBe(200);
    expect(
      (await write('DELETE', '/admin/properties/csrf/default/master?key=x', { 'sec-fetch-site': 'none' })).status,
    ).toBe(200);
    expect(await history()).toHaveLength(3);
  });
});

describe('bad input', () => {
  const bad: [string, string | undefined][] = [
    ['not json', '{"a":'],
    ['an array', '["a"]'],
    ['a nested object', '{"a":{"b":"c"}}'],
    ['an empty key', '{"":"x"}'],
    ['a control character in a key', '{"a\\nb":"x"}'],
    ['no properties', '{}'],
  ];
  it.each(bad)('answers 400 for %s and changes nothing', async (_what, body) => {
    await put('/admin/properties/product/default/master', { keep: 'me' });
    const res = await send('PUT', '/admin/properties/product/default/master', body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/^Invalid Request/);
    expect(await store.read({ application: 'product', profile: 'default', label: 'master' })).toEqual([['keep', 'me']]);
    expect(await history()).toHaveLength(1);
  });

  it('answers 400 for a bad scope, a bad limit or a missing ?key=, and 413 for a huge body', async () => {
    expect((await send('PUT', '/admin/properties/product/bad%20profile/master', { a: '1' })).status).toBe(400);
    expect((await send('PUT', '/admin/properties/a,b/default/master', { a: '1' })).status).toBe(400);
    expect((await send('PUT', '/admin/properties/product/default/..%2Fx', { a: '1' })).status).toBe(400);
    expect((await send('GET', '/admin/history?limit=0')).status).toBe(400);
    expect((await send('DELETE', '/admin/properties/product/default/master')).status).toBe(400);
    const huge = JSON.stringify({ a: 'x'.repeat(300 * 1024) });
    expect((await send('PUT', '/admin/properties/product/default/master', huge)).status).toBe(413);
    expect(await history()).toEqual([]);
  });
});

describe('POST /admin/rollback/{application}/{profile}/{label}', () => {
  it('restores the state right after a change, as a new recorded change', async () => {
    const c1 = await put('/admin/properties/product/default/master', { port: '1', name: 'p' });
    await put('/admin/properties/product/default/master', { port: '2', extra: 'x' });
    await put('/admin/properties/product/default/master', { name: null, port: '3' });
    await put('/admin/properties/review/default/master', { port: '9' });

    const res = await send('POST', '/admin/rollback/product/default/master', { to: c1?.id });
    expect(res.status).toBe(200);
    const change = ((await res.json()) as { change: ChangeJson }).change;
    expect(change.kind).toBe('rollback');
    expect(change.rollbackTo).toBe(c1?.id);
    expect(
      Object.fromEntries(await store.read({ application: 'product', profile: 'default', label: 'master' })),
    ).toEqual({
      port: '1',
      name: 'p',
    });
    // Other scopes are untouched, and the rollback itself can be undone.
    expect(await store.read({ application: 'review', profile: 'default', label: 'master' })).toEqual([['port', '9']]);
    const before = (await history('/admin/history/product/default/master'))[1];
    expect((await send('POST', '/admin/rollback/product/default/master', { to: before?.id })).status).toBe(200);
    expect(
      Object.fromEntries(await store.read({ application: 'product', profile: 'default', label: 'master' })),
    ).toEqual({
      port: '3',
      extra: 'x',
    });
  });

  it('rolls back to before the first change with to = 0', async () => {
    await put('/admin/properties/product/default/master', { port: '1' });
    await put('/admin/properties/product/default/master', { port: '2' });
    expect((await send('POST', '/admin/rollback/product/default/master', { to: 0 })).status).toBe(200);
    expect(await store.read({ application: 'product', profile: 'default', label: 'master' })).toEqual([]);
  });

  it("answers 404 for another scope's change and 400 for a bad body, changing nothing", async () => {
    const other = await put('/admin/properties/review/default/master', { port: '9' });
    await put('/admin/properties/product/default/master', { port: '1' });
    expect((await send('POST', '/admin/rollback/product/default/master', { to: other?.id })).status).toBe(404);
    expect((await send('POST', '/admin/rollback/product/default/master', { to: 999 })).status).toBe(404);
    expect((await send('POST', '/admin/rollback/product/default/master', { to: '1' })).status).toBe(400);
    expect((await send('POST', '/admin/rollback/product/default/master', { to: -1 })).status).toBe(400);
    expect((await send('POST', '/admin/rollback/product/default/master', 'nope')).status).toBe(400);
    expect(await history()).toHaveLength(2);
  });
});
