import { afterAll, describe, expect, it } from 'vitest';
import { createAccessControl, parseClients } from '../../src/access/clients.ts';
import { loadKeyChain } from '../../src/load-key-chain.ts';
import { tempRepo, testServer } from '../helpers.ts';

const repo = tempRepo({
  'application.yml': 'shared: x\n',
  'product.yml': 'p: 1\n',
  'review.yml': 'r: 1\n',
  'nginx.conf': 'plain\n',
  'product/nginx.conf': 'product plain\n',
});
afterAll(() => repo.remove());
const access = createAccessControl(
  parseClients('product:secret-one:product,application;review:secret-two:review;ops:secret-ops:*'),
);
const keys = await loadKeyChain({ encryptKey: 'k' });
const server = testServer(repo.root, { access, ...(keys === undefined ? {} : { keys }) });
const basic = (user: string, pass: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
});

describe('per-application access', () => {
  it('answers 401 with a Basic challenge without credentials or with wrong ones', async () => {
    const res = await server.get('/product/default');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm="config-server"/);
    expect((await server.get('/product/default', basic('product', 'wrong-secret'))).status).toBe(401);
    // The right secret under another id is still wrong.
    expect((await server.get('/product/default', basic('review', 'secret-one'))).status).toBe(401);
  });

  it('lets a client read its own application by Basic, Bearer or X-Config-Token', async () => {
    expect((await server.get('/product/default', basic('product', 'secret-one'))).status).toBe(200);
    expect((await server.get('/product/default', { authorization: 'Bearer secret-one' })).status).toBe(200);
    expect((await server.get('/product/default', { 'x-config-token': 'secret-one' })).status).toBe(200);
    expect((await server.get('/application/default', basic('product', 'secret-one'))).status).toBe(200);
  });

  it("answers 403 for another application's environment, renderings, resources and watch", async () => {
    const auth = basic('product', 'secret-one');
    for (const path of [
      '/review/default',
      '/review-default.yml',
      '/main/review-default.json',
      '/product,review/default',
      '/watch/review/default',
      '/review/default/main/nginx.conf',
    ]) {
      const res = await server.get(path, auth);
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { message: string }).message).toContain('review');
    }
  });

  it("refuses another application's file, and a file of no application, as a plain resource", async () => {
    const auth = basic('product', 'secret-one');
    expect((await server.get('/product/default/main/review.yml', auth)).status).toBe(403);
    // A file that names no application is nobody's to hand to a limited client (it may be a key or a certificate).
    expect((await server.get('/product/default/main/nginx.conf', auth)).status).toBe(403);
    expect(await (await server.get('/product/default/main/product/nginx.conf', auth)).text()).toBe('product plain\n');
    expect((await server.get('/product/default/main/review.yml', basic('ops', 'secret-ops'))).status).toBe(200);
    expect((await server.get('/product/default/main/nginx.conf', basic('ops', 'secret-ops'))).status).toBe(200);
  });

  it('keeps /decrypt to unrestricted clients and leaves actuator health open', async () => {
    const encrypted = await (
      await server.app.request('/encrypt', {
        method: 'POST',
        body: 'x',
        headers: { ...basic('product', 'secret-one'), 'content-type': 'text/plain' },
      })
    ).text();
    const asProduct = await server.app.request('/decrypt', {
      method: 'POST',
      body: encrypted,
      headers: basic('product', 'secret-one'),
    });
    expect(asProduct.status).toBe(403);
    const asOps = await server.app.request('/decrypt', {
      method: 'POST',
      body: encrypted,
      headers: basic('ops', 'secret-ops'),
    });
    expect(await asOps.text()).toBe('x');
    expect((await server.get('/actuator/health')).status).toBe(200);
  });
});

describe('parseClients', () => {
  it('names the bad entry without echoing secrets', () => {
    expect(() => parseClients('a:short:x')).toThrow(/entry 1 \(a\): the secret needs at least 8/);
    expect(() => parseClients('a:long-secret')).toThrow(/entry 1 must be id:secret:applications/);
    expect(() => parseClients('a:long-secret:x;b:long-secret:y')).toThrow(/secret reused/);
    try {
      parseClients('a:long-secret:x;b:long-secret:y');
    } catch (err) {
      expect(String(err)).not.toContain('long-secret');
    }
  });
});
