import { afterAll, describe, expect, it } from 'vitest';
import { createEncryptorFromKey, createKeyChain, type KeyChain } from '../../src/cipher/index.ts';
import { loadKeyChain } from '../../src/load-key-chain.ts';
import { vectors, rsaPem } from '../cipher/vectors.ts';
import { tempRepo, testServer, type EnvJson } from '../helpers.ts';

const repo = tempRepo({});
afterAll(() => repo.remove());

async function symmetricKeys(key: string, salt: string): Promise<KeyChain> {
  const chain = await loadKeyChain({ encryptKey: key, encryptSalt: salt });
  if (chain === undefined) throw new Error('no key chain');
  return chain;
}

function post(server: ReturnType<typeof testServer>, path: string, body: string, contentType = 'text/plain') {
  return server.app.request(path, { method: 'POST', body, headers: { 'content-type': contentType } });
}

describe('{cipher} values in served environments', () => {
  it.each(vectors.symmetric.vectors.map((v, i) => [i, v] as const))(
    'decrypts Spring symmetric vector %i before serving',
    async (i, v) => {
      repo.write(`sym${i}.yml`, `secret: '${v.cipherProperty}'\nnode: '{cipher}${v.nodeGeneratedCiphertext}'\n`);
      const server = testServer(repo.root, { keys: await symmetricKeys(v.key, v.salt) });
      const env = await server.json<EnvJson>(`/sym${i}/default`);
      expect(env.propertySources[0]?.source).toEqual({ secret: v.plaintext, node: v.plaintext });
    },
  );

  it.each(vectors.asymmetric.vectors.map((v, i) => [i, v] as const))(
    'decrypts Spring RSA vector %i (its algorithm, salt and strength)',
    async (i, v) => {
      repo.write(`rsa${i}.properties`, `secret=${v.cipherProperty}\n`);
      const keys = await loadKeyChain({
        encryptKey: rsaPem,
        rsaAlgorithm: v.algorithm,
        rsaStrong: v.strong,
        rsaSalt: v.salt,
      });
      const server = testServer(repo.root, keys === undefined ? {} : { keys });
      const env = await server.json<EnvJson>(`/rsa${i}/default`);
      expect(env.propertySources[0]?.source).toEqual({ secret: v.plaintext });
    },
  );

  it('serves a value that does not decrypt as invalid.<key>: <n/a>, never the ciphertext', async () => {
    const v = vectors.symmetric.vectors[0];
    if (v === undefined) throw new Error('no vector');
    repo.write(
      'broken.yml',
      `good: '${v.cipherProperty}'\nbad: '{cipher}${v.ciphertext.replace(/^../, '00')}'\nplain: x\n`,
    );
    const server = testServer(repo.root, { keys: await symmetricKeys(v.key, v.salt) });
    const env = await server.json<EnvJson>('/broken/default');
    expect(env.propertySources[0]?.source).toEqual({ good: v.plaintext, 'invalid.bad': '<n/a>', plain: 'x' });
    const noKey = await testServer(repo.root).json<EnvJson>('/broken/default');
    expect(noKey.propertySources[0]?.source).toEqual({ 'invalid.good': '<n/a>', 'invalid.bad': '<n/a>', plain: 'x' });
    expect(JSON.stringify(noKey)).not.toContain(v.ciphertext);
  });

  it('decrypts before rendering files', async () => {
    const v = vectors.symmetric.vectors[0];
    if (v === undefined) throw new Error('no vector');
    repo.write('render.yml', `password: '${v.cipherProperty}'\n`);
    const server = testServer(repo.root, { keys: await symmetricKeys(v.key, v.salt) });
    expect(await (await server.get('/render-default.properties')).text()).toBe(`password: ${v.plaintext}`);
  });
});

describe('POST /encrypt and /decrypt', () => {
  it('round-trips with a symmetric key and decrypts a Spring ciphertext', async () => {
    const v = vectors.symmetric.vectors[1];
    if (v === undefined) throw new Error('no vector');
    const server = testServer(repo.root, { keys: await symmetricKeys(v.key, v.salt) });
    const encrypted = await (await post(server, '/encrypt', 'p4ss+word=1')).text();
    expect(encrypted).toMatch(/^[0-9a-f]+$/);
    const decrypted = await post(server, '/decrypt', encrypted);
    expect(decrypted.status).toBe(200);
    expect(await decrypted.text()).toBe('p4ss+word=1');
    expect(await (await post(server, '/decrypt', v.ciphertext)).text()).toBe(v.plaintext);
    expect(await (await post(server, '/decrypt/product/default', v.cipherProperty)).text()).toBe(v.plaintext);
    const viaApp = await (await post(server, '/encrypt/product/docker', 'x')).text();
    expect(await (await post(server, '/decrypt', viaApp)).text()).toBe('x');
  });

  it("refuses a browser's cross-site and same-site requests (403 with the reason) but keeps text/plain", async () => {
    const v = vectors.symmetric.vectors[1];
    if (v === undefined) throw new Error('no vector');
    const server = testServer(repo.root, { keys: await symmetricKeys(v.key, v.salt) });
    const send = (path: string, body: string, site: string) =>
      server.app.request(path, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain', 'sec-fetch-site': site, origin: 'https://evil.example' },
      });
    for (const site of ['cross-site', 'same-site', 'Same-Site ']) {
      for (const path of ['/encrypt', '/encrypt/product/default', '/decrypt', '/decrypt/product/default']) {
        const res = await send(path, path.startsWith('/encrypt') ? 'x' : v.ciphertext, site);
        expect(res.status).toBe(403);
        expect(await res.text()).toContain(`Sec-Fetch-Site: ${site.trim().toLowerCase()}`);
      }
    }
    expect(await (await send('/decrypt', v.ciphertext, 'same-origin')).text()).toBe(v.plaintext);
    expect((await send('/encrypt', 'x', 'none')).status).toBe(200);
  });

  it('round-trips with the RSA key, and our ciphertext decrypts with the vector key', async () => {
    const keys = await loadKeyChain({ encryptKey: rsaPem });
    const server = testServer(repo.root, keys === undefined ? {} : { keys });
    const encrypted = await (await post(server, '/encrypt', 'ünïcödé ✓')).text();
    expect(encrypted.startsWith('AQ')).toBe(true);
    expect(createEncryptorFromKey(rsaPem).decrypt(encrypted)).toBe('ünïcödé ✓');
    expect(await (await post(server, '/decrypt', encrypted)).text()).toBe('ünïcödé ✓');
  });

  it('undoes curl -d form encoding (trailing =) unless the body is text/plain', async () => {
    const keys = await loadKeyChain({ encryptKey: rsaPem });
    const server = testServer(repo.root, keys === undefined ? {} : { keys });
    const form = 'application/x-www-form-urlencoded';
    // curl -d 'a+b c' sends "a+b c=" unencoded; Spring URL-decodes, so '+' becomes a space.
    const encrypted = await (await post(server, '/encrypt', 'my%2Bsecret=', form)).text();
    expect(await (await post(server, '/decrypt', encrypted)).text()).toBe('my+secret');
    // A base64 ciphertext posted with curl -d: '+' arrives as a space after decoding and must be restored.
    expect(await (await post(server, '/decrypt', `${encrypted}=`, form)).text()).toBe('my+secret');
    // text/plain bodies are taken literally, trailing '=' included.
    const literal = await (await post(server, '/encrypt', 'ends-with=', 'text/plain')).text();
    expect(await (await post(server, '/decrypt', literal)).text()).toBe('ends-with=');
  });

  it('answers Spring {status, description} errors', async () => {
    const none = testServer(repo.root);
    const noKey = await post(none, '/encrypt', 'x');
    expect(noKey.status).toBe(404);
    expect(await noKey.json()).toEqual({
      status: 'NO_KEY',
      description: 'No key was installed for encryption service',
    });
    expect((await post(none, '/decrypt', 'abcd')).status).toBe(404);
    expect((await none.get('/encrypt/status')).status).toBe(404);

    const v = vectors.symmetric.vectors[0];
    if (v === undefined) throw new Error('no vector');
    const sym = testServer(repo.root, { keys: await symmetricKeys('another-key', 'deadbeef') });
    const foreign = await post(sym, '/decrypt', v.ciphertext);
    expect(foreign.status).toBe(400);
    expect(await foreign.json()).toEqual({ status: 'INVALID', description: 'Text not encrypted with this key' });
    const garbage = await post(sym, '/decrypt', 'not a ciphertext');
    expect(await garbage.json()).toEqual({ status: 'INVALID', description: 'Text not encrypted with this key' });

    const publicOnly = testServer(repo.root, {
      keys: createKeyChain({ default: createEncryptorFromKey(vectors.asymmetric.publicKeySpkiPem) }),
    });
    const encrypted = await (await post(publicOnly, '/encrypt', 'x')).text();
    const unsupported = await post(publicOnly, '/decrypt', encrypted);
    expect(unsupported.status).toBe(400);
    expect(await unsupported.json()).toEqual({
      status: 'BAD_REQUEST',
      description: 'Server-side decryption is not supported',
    });
  });

  it('GET /encrypt/status answers OK with a key', async () => {
    const server = testServer(repo.root, { keys: await symmetricKeys('k', 'deadbeef') });
    expect(await (await server.get('/encrypt/status')).json()).toEqual({ status: 'OK' });
  });
});

describe('GET /key', () => {
  it("answers the vector's springKeyEndpointFormat when its RSA key is installed", async () => {
    const keys = await loadKeyChain({ encryptKey: rsaPem });
    const server = testServer(repo.root, keys === undefined ? {} : { keys });
    const res = await server.get('/key');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(vectors.asymmetric.springKeyEndpointFormat);
    expect(await (await server.get('/key/product/default')).text()).toBe(vectors.asymmetric.springKeyEndpointFormat);
  });

  it('answers 404 NOT_FOUND for a symmetric key or none', async () => {
    for (const server of [
      testServer(repo.root),
      testServer(repo.root, { keys: await symmetricKeys('k', 'deadbeef') }),
    ]) {
      const res = await server.get('/key');
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ status: 'NOT_FOUND', description: 'No public key available' });
    }
  });
});
