// Ids, tokens and names holding a NUL byte (which PostgreSQL text cannot store) or a lone surrogate, sent to every
// endpoint that looks them up or stores them: each answers as for an unknown one, or 400 with the reason, never 500,
// and logs no error, on PostgreSQL and on SQLite alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturingLogger, openLoginForm, addWebClient, startServer, type TestServer } from '../helpers.ts';
import { addClient, postgresForThisFile, SHARED_KEY } from './helpers.ts';

const REGISTRATION_TOKEN = 'nul-tests-registration-token';
const { dir, pg } = postgresForThisFile();

const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(fields).toString(),
});
const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const json = (body: unknown, token: string): RequestInit => ({
  method: 'POST',
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

interface Case {
  readonly name: string;
  /** The request: a path (or absolute URL) and its init, made once the server and its client exist. */
  readonly request: (ctx: { url: string; secret: string }) => Promise<[string, RequestInit?]> | [string, RequestInit?];
  readonly status: number;
  /** A text the answer's body holds (an OAuth error code, a reason). */
  readonly body?: string;
  /** A text the answer's Location holds (an error sent back to the client's redirect URI). */
  readonly location?: string;
}

const NUL = 'a\u0000b';

const cases: Case[] = [
  {
    name: 'client_credentials with a client_id holding NUL',
    request: () => ['/oauth2/token', form({ grant_type: 'client_credentials', client_id: NUL, client_secret: 'x' })],
    status: 401,
    body: 'invalid_client',
  },
  {
    name: 'authorize with a client_id holding NUL',
    request: () => [
      `/oauth2/authorize?${new URLSearchParams({ client_id: NUL, response_type: 'code', scope: 'openid', redirect_uri: 'https://x.example/cb' }).toString()}`,
    ],
    status: 400,
  },
  {
    name: 'authorize of a known client with a state holding NUL',
    request: () => [
      `/oauth2/authorize?${new URLSearchParams({ client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:1/cb', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: NUL }).toString()}`,
      { redirect: 'manual' },
    ],
    // The client and its redirect URI are known: the error goes back there (RFC 6749 §4.1.2.1), nothing is stored.
    status: 303,
    location: 'error=invalid_request',
  },
  {
    name: 'PAR with a client_id holding NUL',
    request: () => [
      '/oauth2/par',
      form({ client_id: NUL, client_secret: 'x', response_type: 'code', scope: 'openid' }),
    ],
    status: 401,
    body: 'invalid_client',
  },
  {
    name: 'device authorization with a client_id holding NUL',
    request: () => ['/oauth2/device_authorization', form({ client_id: NUL, client_secret: 'x', scope: 'openid' })],
    status: 401,
    body: 'invalid_client',
  },
  {
    name: 'client configuration of a client_id holding NUL',
    request: () => ['/oauth2/register/a%00b', { headers: { authorization: 'Bearer anything' } }],
    status: 401,
    body: 'invalid_token',
  },
  {
    name: 'a refresh_token holding NUL',
    request: ({ secret }) => [
      '/oauth2/token',
      form({ grant_type: 'refresh_token', refresh_token: NUL }, { authorization: basic('app', secret) }),
    ],
    status: 400,
    body: 'invalid_grant',
  },
  {
    name: 'a code holding NUL',
    request: ({ secret }) => [
      '/oauth2/token',
      form(
        { grant_type: 'authorization_code', code: NUL, redirect_uri: 'https://app.example/cb' },
        { authorization: basic('app', secret) },
      ),
    ],
    status: 400,
    body: 'invalid_grant',
  },
  {
    name: 'introspection of a token holding NUL',
    request: ({ secret }) => ['/oauth2/introspect', form({ token: NUL }, { authorization: basic('app', secret) })],
    status: 200,
    body: '"active":false',
  },
  {
    name: 'revocation of a token holding NUL',
    request: ({ secret }) => ['/oauth2/revoke', form({ token: NUL }, { authorization: basic('app', secret) })],
    status: 200,
  },
  {
    name: 'admin GET of client %00',
    request: () => ['/admin/clients/%00', { headers: { authorization: 'Bearer test-admin-token-0123456789' } }],
    status: 404,
    body: 'unknown_client',
  },
  {
    name: 'admin DELETE of client %00',
    request: () => [
      '/admin/clients/%00',
      { method: 'DELETE', headers: { authorization: 'Bearer test-admin-token-0123456789' } },
    ],
    status: 404,
    body: 'unknown_client',
  },
  {
    name: 'admin rotate-secret of client %00',
    request: () => [
      '/admin/clients/%00/rotate-secret',
      { method: 'POST', headers: { authorization: 'Bearer test-admin-token-0123456789' } },
    ],
    status: 404,
    body: 'unknown_client',
  },
  {
    name: 'admin create with a client_name holding NUL',
    request: () => ['/admin/clients', json({ client_id: 'n1', client_name: NUL }, 'test-admin-token-0123456789')],
    status: 400,
    body: 'NUL',
  },
  {
    name: 'admin create with a redirect URI holding NUL',
    request: () => [
      '/admin/clients',
      json({ client_id: 'n2', redirect_uris: ['https://x.example/a\u0000b'] }, 'test-admin-token-0123456789'),
    ],
    status: 400,
    body: 'NUL',
  },
  {
    name: 'admin create with a client_name holding a lone surrogate',
    request: () => [
      '/admin/clients',
      // JSON.stringify writes a lone surrogate as the escape \ud800, which JSON.parse reads back as one.
      json({ client_id: 'n3', client_name: 'a\ud800b' }, 'test-admin-token-0123456789'),
    ],
    status: 400,
    body: 'surrogate',
  },
  {
    name: 'dynamic registration with a client_name holding NUL',
    request: () => [
      '/oauth2/register',
      json({ client_name: NUL, grant_types: ['client_credentials'] }, REGISTRATION_TOKEN),
    ],
    status: 400,
    body: 'invalid_client_metadata',
  },
  {
    name: 'dynamic registration with a client_name holding a lone surrogate',
    request: () => [
      '/oauth2/register',
      json({ client_name: '\udc00', grant_types: ['client_credentials'] }, REGISTRATION_TOKEN),
    ],
    status: 400,
    body: 'invalid_client_metadata',
  },
];

let databases = 0;
const backends: [string, () => Promise<readonly string[]>][] = [
  ['PostgreSQL', async () => ['--database-url', await pg().createDatabase(`nul_${++databases}`)]],
  ['SQLite', () => Promise.resolve([])],
];

describe.each(backends)('NUL bytes and lone surrogates on %s', (_name, database) => {
  let server: TestServer;
  let secret: string;
  const log = capturingLogger();
  beforeAll(async () => {
    server = await startServer({
      dataDir: `${dir.path}/${_name}`,
      logger: log.logger,
      argv: [
        ...(await database()),
        '--key-encryption-key',
        SHARED_KEY,
        '--seed-dev-clients',
        'false',
        '--registration-token',
        REGISTRATION_TOKEN,
      ],
    });
    secret = await addClient(server, {
      client_id: 'app',
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirect_uris: ['https://app.example/cb'],
      scope: 'openid',
    });
    await addWebClient(server);
  }, 60_000);
  afterAll(async () => {
    await server?.running.stop();
  });

  it.each(cases)('$name: $status', async ({ request, status, body, location }) => {
    const [target, init] = await request({ url: server.url, secret });
    const res = await fetch(new URL(target, server.url), init);
    const text = await res.text();
    expect({ status: res.status, text }).toMatchObject({ status });
    if (body !== undefined) expect(text).toContain(body);
    if (location !== undefined) expect(res.headers.get('location')).toContain(location);
  });

  it('a username holding NUL on the login form: 401, wrong username or password', async () => {
    const { action, csrf, cookies } = await openLoginForm(server.url);
    const res = await fetch(action, form({ csrf, username: NUL, password: 'whatever-password' }, { cookie: cookies }));
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('Wrong username or password');
  });

  it('nothing was logged as an error, and the clients list is JSON any parser takes', async () => {
    const list = await server.admin('GET', '/admin/clients');
    const text = await list.text();
    expect(text).not.toMatch(/\p{Cs}/u);
    expect(text).not.toMatch(/\\ud[89a-f]/i);
    const errors = log
      .text()
      .split('\n')
      .filter((line) => line !== '' && (JSON.parse(line) as { level: number }).level >= 50);
    expect(errors).toEqual([]);
  });
});
