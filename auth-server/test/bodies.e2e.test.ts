// What the admin API and dynamic registration (RFC 7591/7592) do with bodies that are not client metadata: deeply
// nested, huge, or not JSON at all. Each gets a 4xx that says why, never a 500, and nothing is stored.
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listClients } from '../src/manage.ts';
import { ADMIN_TOKEN, startServer, tempDir, type TestServer } from './helpers.ts';

const INITIAL_TOKEN = 'initial-access-token-0123456789';
const dir = tempDir();
let server: TestServer;
let configUri = '';
let registrationToken = '';
let clientId = '';

beforeAll(async () => {
  server = await startServer({
    dataDir: dir.path,
    argv: ['--registration-token', INITIAL_TOKEN],
    env: { AUTH_SEED_DEV_CLIENTS: 'false' },
  });
  const res = await fetch(`${server.url}/oauth2/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${INITIAL_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'] }),
  });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { registration_client_uri: string; registration_access_token: string };
  ({ registration_client_uri: configUri, registration_access_token: registrationToken } = body);
  clientId = configUri.split('/').pop() ?? '';
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

interface Endpoint {
  readonly name: string;
  /** The client_id a body names: a new one, or the client being updated. */
  readonly id: () => string;
  readonly method: 'POST' | 'PUT';
  readonly url: () => string;
  readonly token: () => string;
}

const ENDPOINTS: readonly Endpoint[] = [
  {
    name: 'admin create',
    id: () => 'fresh',
    method: 'POST',
    url: () => `${server.url}/admin/clients`,
    token: () => ADMIN_TOKEN,
  },
  {
    name: 'registration',
    id: () => 'fresh',
    method: 'POST',
    url: () => `${server.url}/oauth2/register`,
    token: () => INITIAL_TOKEN,
  },
  {
    name: 'registration update',
    id: () => clientId,
    method: 'PUT',
    url: () => configUri,
    token: () => registrationToken,
  },
];

/** Sends a raw body (a string, or bytes) with the given headers; no fetch normalisation of the content type. */
function send(e: Endpoint, body: string | Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(e.url(), {
    method: e.method,
    headers: { authorization: `Bearer ${e.token()}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

/** The reason a refusal gives, in either error shape (the kit's `message`, RFC 7591's `error_description`). */
async function reason(res: Response): Promise<string> {
  const text = await res.text();
  const body = JSON.parse(text) as { error?: unknown; message?: unknown; error_description?: unknown };
  expect(typeof body.error).toBe('string');
  const why = body.error_description ?? body.message;
  expect(typeof why).toBe('string');
  expect(text.length).toBeLessThan(2000);
  return why as string;
}

const stored = async (): Promise<string[]> => (await listClients({ dataDir: dir.path })).map((c) => c.client_id).sort();

describe.each(ENDPOINTS)('$name', (e) => {
  it('refuses deeply nested or very wide JSON with 400 and a reason', async () => {
    const before = await stored();
    const depth = 100_000;
    const cases: Record<string, string> = {
      'nested arrays at the top': `${'['.repeat(depth)}${']'.repeat(depth)}`,
      'nested arrays in a field': `{"client_id":"${e.id()}","redirect_uris":${'['.repeat(depth)}${']'.repeat(depth)}}`,
      'nested objects in a field': `{"client_id":"${e.id()}","client_name":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      'nested objects in an unknown field': `{"client_id":"${e.id()}","x":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      'an object with 50,000 members': `{"client_id":"${e.id()}","x":{${Array.from({ length: 50_000 }, (_, i) => `"k${i}":1`).join(',')}}}`,
      'a list of 20,000 entries': `{"client_id":"${e.id()}","redirect_uris":[${Array.from({ length: 20_000 }, () => '"http://127.0.0.1/cb"').join(',')}]}`,
      'a long member name': `{"client_id":"${e.id()}","${'k'.repeat(100_000)}":1}`,
      'nested arrays in a list member': `{"client_id":"${e.id()}","grant_types":[${'['.repeat(depth)}${']'.repeat(depth)}]}`,
    };
    for (const [what, body] of Object.entries(cases)) {
      const res = await send(e, body);
      expect(res.status, what).toBe(400);
      expect(await reason(res), what).toMatch(/nest|JSON|must|invalid|not|more than|longer than/i);
    }
    expect(await stored()).toEqual(before);
  });

  it('refuses a body over the limit with 413, with or without a content-length', async () => {
    const before = await stored();
    const huge = JSON.stringify({ client_id: e.id(), client_name: 'x'.repeat(2 * 1024 * 1024) });
    const res = await send(e, huge);
    expect(res.status).toBe(413);
    expect(await reason(res)).toMatch(/over \d+ bytes/);
    // Chunked: the length is learnt while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(e.url());
      const req = request(
        url,
        {
          method: e.method,
          headers: { authorization: `Bearer ${e.token()}`, 'content-type': 'application/json' },
        },
        (r) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) =>
        // The server may answer and close before the whole body is sent.
        err.code === 'EPIPE' || err.code === 'ECONNRESET' ? resolve({ status: 413, body: '{}' }) : reject(err),
      );
      for (let i = 0; i < 40; i++) req.write('x'.repeat(64 * 1024));
      req.end();
    });
    expect(chunked.status).toBe(413);
    expect(await stored()).toEqual(before);
  });

  it('refuses a long value with a short reason (the value is not echoed whole)', async () => {
    const body = JSON.stringify({ client_id: e.id(), redirect_uris: [`https://a/${'x'.repeat(500_000)}`] });
    const res = await send(e, body);
    expect(res.status).toBe(400);
    expect((await reason(res)).length).toBeLessThan(500);
    const grant = JSON.stringify({ client_id: e.id(), grant_types: ['x'.repeat(500_000)] });
    const res2 = await send(e, grant);
    expect(res2.status).toBe(400);
    expect((await reason(res2)).length).toBeLessThan(500);
  });

  it('refuses anything but application/json with 415 and a reason', async () => {
    const before = await stored();
    const body = JSON.stringify({ client_id: e.id(), redirect_uris: ['http://127.0.0.1/cb'] });
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json-patch+json',
      'application/jsonx',
      'text/json',
    ]) {
      const res = await send(e, body, { 'content-type': type });
      expect(res.status, type).toBe(415);
      expect(await reason(res), type).toMatch(/application\/json/);
    }
    const gzip = await send(e, gzipSync(body), { 'content-encoding': 'gzip' });
    expect(gzip.status).toBe(415);
    expect(await reason(gzip)).toMatch(/content-encoding/);
    const none = await fetch(e.url(), {
      method: e.method,
      headers: { authorization: `Bearer ${e.token()}` },
      body: new Blob([body]),
    });
    expect(none.status).toBe(415);
    expect(await stored()).toEqual(before);
  });

  it('refuses what is not a JSON object, or not UTF-8, with 400', async () => {
    const before = await stored();
    const cases: Record<string, string | Buffer> = {
      empty: '',
      null: 'null',
      array: '[]',
      string: '"x"',
      'trailing garbage': '{}x',
      'invalid UTF-8': Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      'huge number': `{"client_id":"${e.id()}","client_name":1e400}`,
      __proto__: `{"client_id":"${e.id()}","__proto__":{"token_endpoint_auth_method":"none"},"redirect_uris":5}`,
    };
    for (const [what, body] of Object.entries(cases)) {
      const res = await send(e, body, { 'content-type': 'application/json; charset=utf-8' });
      expect(res.status, what).toBe(400);
      await reason(res);
    }
    expect(await stored()).toEqual(before);
  });
});
