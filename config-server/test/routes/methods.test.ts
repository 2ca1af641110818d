// Found by fuzzing: a method no route serves is 405 with Allow, also where a write check or guard shares the path.
import { describe, expect, it } from 'vitest';
import { createAccessControl } from '../../src/access/clients.ts';
import { createApp } from '../../src/app.ts';
import { createSqliteBackend } from '../../src/backends/jdbc.ts';
import { openPropertyStore } from '../../src/store/properties.ts';
import { silentLogger } from '../helpers.ts';

const OPS = `Basic ${Buffer.from('ops:ops-secret-1').toString('base64')}`;

function app() {
  const store = openPropertyStore({ file: ':memory:' });
  return createApp({
    logger: silentLogger(),
    backend: createSqliteBackend({ store }),
    store,
    admins: createAccessControl([{ id: 'ops', secret: 'ops-secret-1', applications: ['*'] }]),
  });
}

const allowed = (res: Response): string[] =>
  (res.headers.get('allow') ?? '')
    .split(',')
    .map((m) => m.trim())
    .sort();

describe('methods no route serves', () => {
  it('are 405 on the write API paths, not the write checks’ 415 (no JSON body)', async () => {
    const a = app();
    const history = await a.request('/admin/history', { method: 'PUT', headers: { authorization: OPS } });
    expect(history.status).toBe(405);
    expect(allowed(history)).toEqual(['GET']);
    const scoped = await a.request('/admin/history/product/default/master', { method: 'DELETE' });
    expect(scoped.status).toBe(405);
    const properties = await a.request('/admin/properties/product/default/master', {
      method: 'POST',
      headers: { authorization: OPS },
    });
    expect(properties.status).toBe(405);
    expect(allowed(properties)).toEqual(expect.arrayContaining(['DELETE', 'GET', 'PUT']));
  });

  it('are 405 at /encrypt/status, which the cross-site check once answered as a route (404)', async () => {
    const res = await app().request('/encrypt/status', { method: 'POST', body: 'x' });
    expect(res.status).toBe(405);
    expect(allowed(res)).toEqual(['GET']);
  });

  it('leave the write and cipher checks where they were: JSON only, and no page of another site', async () => {
    const a = app();
    const text = await a.request('/admin/properties/product/default/master', {
      method: 'PUT',
      headers: { authorization: OPS, 'content-type': 'text/plain' },
      body: '{"a":"1"}',
    });
    expect(text.status).toBe(415);
    for (const path of ['/encrypt', '/encrypt/product/default', '/decrypt', '/decrypt/product/default']) {
      const res = await a.request(path, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' }, body: 'x' });
      expect(res.status, path).toBe(403);
    }
    const rollback = await a.request('/admin/rollback/product/default/master', {
      method: 'POST',
      headers: { authorization: OPS, 'content-type': 'application/json', 'sec-fetch-site': 'same-site' },
      body: '{"to":0}',
    });
    expect(rollback.status).toBe(403);
  });
});
