// Every refusal of the token, introspection, revocation and registration endpoints (and the admin API and login
// page around them), each sent with a credential nobody else uses: none of them may come back in an answer or reach
// a log line, whatever part of the request it was in.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger } from '../../kit/test/support/logger.ts';
import { addUser } from '../src/manage.ts';
import { startServer, tempDir, type TestServer } from './helpers.ts';

const INITIAL_TOKEN = 'initial-token-Qm9uZXlTZWNyZXQ0Mg';
const dir = tempDir();
const logs = captureLogger('trace');
let server: TestServer;
/** Every credential presented or issued in this file. */
const secrets: string[] = [INITIAL_TOKEN];
const bodies: { what: string; status: number; body: string }[] = [];
/** Response headers of every call (WWW-Authenticate, Location...). */
const headerLines: { what: string; line: string }[] = [];
/** The answers whose job is to hand out credentials. */
const ISSUING = new Set(['register', 'code exchange', 'refresh']);
/** The login form refilled with what the user typed, back to that user's own browser (never cached). */
const OWN_INPUT = new Set(['password as username']);
const REDIRECT = 'http://127.0.0.1:1/cb';

/** A credential that appears nowhere else: any occurrence in a log or an answer is a leak. */
function secret(label: string): string {
  const value = `${label}Zq${randomBytes(12).toString('hex')}`;
  secrets.push(value);
  return value;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

async function call(what: string, path: string, init: RequestInit): Promise<Response> {
  const res = await fetch(`${server.url}${path}`, init);
  const body = await res.text();
  headerLines.push(
    ...[...res.headers].filter(([k]) => k !== 'set-cookie').map(([k, v]) => ({ what, line: `${k}: ${v}` })),
  );
  bodies.push({ what, status: res.status, body });
  return new Response(res.status === 204 ? null : body, { status: res.status, headers: res.headers });
}

const formPost = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  path,
  init: {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  },
});

/** A confidential client of its own for each case, so the failure throttle never slows the file down. */
let clientCount = 0;
async function newClient(): Promise<{ id: string; secret: string }> {
  const id = `c${++clientCount}`;
  const res = await server.admin('POST', '/admin/clients', { client_id: id, scope: 'product:read' });
  expect(res.status).toBe(201);
  const { client_secret } = (await res.json()) as { client_secret: string };
  secrets.push(client_secret);
  return { id, secret: client_secret };
}

async function accessToken(c: { id: string; secret: string }): Promise<string> {
  const res = await fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${b64(`${c.id}:${c.secret}`)}`,
    },
    body: 'grant_type=client_credentials&scope=product%3Aread',
  });
  expect(res.status).toBe(200);
  const { access_token: token } = (await res.json()) as { access_token: string };
  secrets.push(token);
  return token;
}

/**
 * Alice's way through the login and consent pages with plain fetch (a cookie jar, redirects by hand), a wrong
 * password first; answers the authorization code.
 */
async function signIn(password: string): Promise<string> {
  const jar = new Map<string, string>();
  const cookie = (): string => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const go = async (url: string, init: RequestInit = {}): Promise<Response> => {
    const res = await fetch(new URL(url, server.url), {
      ...init,
      redirect: 'manual',
      headers: { ...init.headers, cookie: cookie() },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const at = pair.indexOf('=');
      const value = pair.slice(at + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(pair.slice(0, at));
      else jar.set(pair.slice(0, at), value);
    }
    return res;
  };
  const post = (action: string, fields: Record<string, string>, what: string) =>
    go(action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    }).then(async (res) => {
      if (res.status !== 303 && res.status !== 302)
        bodies.push({ what, status: res.status, body: await res.clone().text() });
      return res;
    });
  const query = new URLSearchParams({
    client_id: 'web',
    response_type: 'code',
    scope: 'openid offline_access',
    prompt: 'consent',
    redirect_uri: REDIRECT,
  });
  let res = await go(`/oauth2/authorize?${query.toString()}`);
  let wrongPasswordSent = false;
  for (let step = 0; step < 12; step++) {
    const location = res.headers.get('location');
    if (location?.startsWith(REDIRECT) === true) return new URL(location).searchParams.get('code') ?? '';
    if (location !== null) {
      res = await go(location);
      continue;
    }
    const html = await res.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
    const login = /action="([^"]+\/login)"/.exec(html)?.[1];
    const confirm = /action="([^"]+\/confirm)"/.exec(html)?.[1];
    if (login !== undefined && !wrongPasswordSent) {
      wrongPasswordSent = true;
      res = await post(login, { csrf, username: 'alice', password: secret('wrongpw') }, 'wrong password');
      expect(res.status).toBe(401);
      // A password typed into the username field (a common slip) is no username to log either.
      const slip = secret('slip');
      res = await post(login, { csrf, username: slip, password: slip }, 'password as username');
      expect(res.status).toBe(401);
    } else if (login !== undefined) {
      res = await post(login, { csrf, username: 'alice', password }, 'right password');
    } else if (confirm !== undefined) {
      res = await post(confirm, { csrf }, 'consent');
    } else {
      throw new Error(`unexpected page: ${html.slice(0, 200)}`);
    }
  }
  throw new Error('no code after 12 steps');
}

beforeAll(async () => {
  server = await startServer({
    dataDir: dir.path,
    logger: logs.logger,
    argv: ['--registration-token', INITIAL_TOKEN],
    env: { AUTH_SEED_DEV_CLIENTS: 'false' },
  });
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

describe('no presented credential in error bodies or logs', () => {
  it('token endpoint: wrong secrets, malformed Basic headers, bad grants', async () => {
    const cases: { what: string; path: string; init: RequestInit }[] = [];
    const add = (what: string, r: { path: string; init: RequestInit }) => cases.push({ what, ...r });
    const cc = { grant_type: 'client_credentials', scope: 'product:read' };
    let c = await newClient();
    add(
      'wrong basic secret',
      formPost('/oauth2/token', cc, { authorization: `Basic ${b64(`${c.id}:${secret('b')}`)}` }),
    );
    c = await newClient();
    add('wrong post secret', formPost('/oauth2/token', { ...cc, client_id: c.id, client_secret: secret('p') }));
    add('basic, not base64', formPost('/oauth2/token', cc, { authorization: `Basic ${secret('raw')}!!` }));
    add('basic without colon', formPost('/oauth2/token', cc, { authorization: `Basic ${b64(secret('nocolon'))}` }));
    add(
      'basic, bad percent-encoding',
      formPost('/oauth2/token', cc, { authorization: `Basic ${b64(`c1:%ZZ${secret('pct')}%`)}` }),
    );
    add(
      'basic with trailing junk',
      formPost('/oauth2/token', cc, { authorization: `Basic ${b64(`c1:${secret('junk')}`)} extra` }),
    );
    add('bearer at the token endpoint', formPost('/oauth2/token', cc, { authorization: `Bearer ${secret('bearer')}` }));
    add(
      'unknown client',
      formPost('/oauth2/token', cc, { authorization: `Basic ${b64(`nobody:${secret('unknown')}`)}` }),
    );
    c = await newClient();
    add(
      'two authentication methods',
      formPost(
        '/oauth2/token',
        { ...cc, client_id: c.id, client_secret: secret('both') },
        { authorization: `Basic ${b64(`${c.id}:${secret('both2')}`)}` },
      ),
    );
    c = await newClient();
    add(
      'right secret, other client_id in the body',
      formPost(
        '/oauth2/token',
        { ...cc, client_id: 'other' },
        { authorization: `Basic ${b64(`${c.id}:${c.secret}`)}` },
      ),
    );
    c = await newClient();
    const basic = { authorization: `Basic ${b64(`${c.id}:${c.secret}`)}` };
    add(
      'bad refresh token',
      formPost('/oauth2/token', { grant_type: 'refresh_token', refresh_token: secret('rt') }, basic),
    );
    add(
      'bad authorization code',
      formPost(
        '/oauth2/token',
        { grant_type: 'authorization_code', code: secret('code'), redirect_uri: 'http://127.0.0.1/cb' },
        basic,
      ),
    );
    add(
      'bad device code',
      formPost(
        '/oauth2/token',
        { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: secret('dc') },
        basic,
      ),
    );
    add(
      'password grant',
      formPost('/oauth2/token', { grant_type: 'password', username: 'alice', password: secret('pw') }, basic),
    );
    add(
      'client assertion',
      formPost('/oauth2/token', {
        ...cc,
        client_id: c.id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: `eyJhbGciOiJIUzI1NiJ9.${secret('assert')}.sig`,
      }),
    );
    add('secret in the query', {
      path: `/oauth2/token?client_secret=${secret('query')}`,
      init: formPost('/oauth2/token', cc).init,
    });
    // Locked out: ten wrong secrets, then the right one, refused (429) before it is checked.
    c = await newClient();
    for (let i = 0; i < 10; i++) {
      add('locking out', formPost('/oauth2/token', { ...cc, client_id: c.id, client_secret: secret('lock') }));
    }
    add('locked out', formPost('/oauth2/token', { ...cc, client_id: c.id, client_secret: c.secret }));
    for (const k of cases) {
      const res = await call(k.what, k.path, k.init);
      expect(res.status, k.what).toBeGreaterThanOrEqual(400);
      expect(res.status, k.what).toBeLessThan(500);
    }
    expect(bodies.at(-1)).toMatchObject({ what: 'locked out', status: 429 });
  });

  it('introspection and revocation: bad client, unknown, revoked and foreign tokens', async () => {
    const owner = await newClient();
    const token = await accessToken(owner);
    const ownerAuth = { authorization: `Basic ${b64(`${owner.id}:${owner.secret}`)}` };
    const revoked = await call('revoke', '/oauth2/revoke', formPost('/oauth2/revoke', { token }, ownerAuth).init);
    expect(revoked.status).toBe(200);
    const other = await newClient();
    const wrong = await newClient();
    const wrongAuth = { authorization: `Basic ${b64(`${wrong.id}:${secret('wrongsecret')}`)}` };
    const otherAuth = { authorization: `Basic ${b64(`${other.id}:${other.secret}`)}` };
    const cases: [string, string, Record<string, string>, Record<string, string>][] = [
      ['introspect, wrong secret', '/oauth2/introspect', { token: secret('tok') }, wrongAuth],
      ['introspect, no client', '/oauth2/introspect', { token: secret('anon') }, {}],
      ['introspect, unknown token', '/oauth2/introspect', { token: secret('unk') }, ownerAuth],
      ['introspect, revoked token', '/oauth2/introspect', { token }, ownerAuth],
      ['introspect, revoked token, hint', '/oauth2/introspect', { token, token_type_hint: 'refresh_token' }, otherAuth],
      ['introspect, bad hint', '/oauth2/introspect', { token: secret('hint'), token_type_hint: 'x' }, ownerAuth],
      ['revoke, wrong secret', '/oauth2/revoke', { token }, wrongAuth],
      ['revoke, foreign', '/oauth2/revoke', { token }, otherAuth],
      ['revoke, unknown', '/oauth2/revoke', { token: secret('unkrev') }, ownerAuth],
      ['revoke, revoked again', '/oauth2/revoke', { token }, ownerAuth],
      ['revoke, bad hint', '/oauth2/revoke', { token: secret('revhint'), token_type_hint: 'x' }, ownerAuth],
    ];
    for (const [what, path, fields, headers] of cases) {
      const res = await call(what, path, formPost(path, fields, headers).init);
      expect(res.status, what).toBeLessThan(500);
    }
    const userinfo = await call('userinfo, revoked', '/oauth2/userinfo', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(userinfo.status).toBe(401);
  });

  it('registration and the admin API: wrong and malformed tokens, secrets in the body', async () => {
    const json = (method: string, authorization: string, body?: unknown): RequestInit => ({
      method,
      headers: { authorization, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const metadata = { redirect_uris: ['http://127.0.0.1/cb'] };
    const ok = await call('register', '/oauth2/register', json('POST', `Bearer ${INITIAL_TOKEN}`, metadata));
    expect(ok.status).toBe(201);
    const reg = (await ok.json()) as { client_id: string; client_secret: string; registration_access_token: string };
    secrets.push(reg.client_secret, reg.registration_access_token);
    const uri = `/oauth2/register/${reg.client_id}`;
    const rat = reg.registration_access_token;
    const cases: [string, string, RequestInit][] = [
      ['wrong initial token', '/oauth2/register', json('POST', `Bearer ${secret('iat')}`, metadata)],
      ['initial token with junk', '/oauth2/register', json('POST', `Bearer ${secret('iat2')} more`, metadata)],
      ['initial token as basic', '/oauth2/register', json('POST', `Basic ${b64(`x:${secret('iat3')}`)}`, metadata)],
      ['wrong registration token, GET', uri, json('GET', `Bearer ${secret('rat')}`)],
      ['wrong registration token, PUT', uri, json('PUT', `Bearer ${secret('rat2')}`, { client_id: reg.client_id })],
      ['wrong registration token, DELETE', uri, json('DELETE', `Bearer ${secret('rat3')}`)],
      ['registration token of another client', '/oauth2/register/nobody', json('GET', `Bearer ${rat}`)],
      [
        'update with a wrong client_secret',
        uri,
        json('PUT', `Bearer ${rat}`, { ...metadata, client_id: reg.client_id, client_secret: secret('upd') }),
      ],
      [
        'update carrying a registration_access_token',
        uri,
        json('PUT', `Bearer ${rat}`, { ...metadata, client_id: reg.client_id, registration_access_token: secret('x') }),
      ],
      ['wrong admin token', '/admin/clients', json('GET', `Bearer ${secret('admin')}`)],
    ];
    for (const [what, path, init] of cases) {
      const res = await call(what, path, init);
      expect(res.status, what).toBeGreaterThanOrEqual(400);
      expect(res.status, what).toBeLessThan(500);
    }
    // A secret the client proposes is never taken, nor answered back: the server issues its own.
    const chosen = secret('chosen');
    const proposed = await fetch(
      `${server.url}/oauth2/register`,
      json('POST', `Bearer ${INITIAL_TOKEN}`, { ...metadata, client_secret: chosen }),
    );
    const issued = (await proposed.json()) as { client_secret?: string; registration_access_token?: string };
    secrets.push(issued.client_secret ?? '', issued.registration_access_token ?? '');
    expect(proposed.status).toBe(201);
    expect(issued.client_secret).not.toBe(chosen);
    const adminChosen = secret('adm');
    const admin = await server.admin('POST', '/admin/clients', { client_id: 'z', client_secret: adminChosen });
    const adminBody = await admin.text();
    expect(adminBody).not.toContain(adminChosen);
    bodies.push({
      what: 'admin create with a chosen secret',
      status: admin.status,
      body: adminBody.replace(/"client_secret":"[^"]*"/, ''),
    });
  });

  it('the login page and the refresh grant: a wrong password, bad, replayed, rotated and revoked tokens', async () => {
    const password = secret('alicepw');
    await addUser({ dataDir: dir.path }, { username: 'alice', password });
    const web = await server.admin('POST', '/admin/clients', {
      client_id: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT],
      scope: 'openid offline_access',
    });
    const webSecret = ((await web.json()) as { client_secret: string }).client_secret;
    secrets.push(webSecret);
    const auth = { authorization: `Basic ${b64(`web:${webSecret}`)}` };

    const code = await signIn(password);
    secrets.push(code);
    const tokenCall = (what: string, fields: Record<string, string>, headers: Record<string, string> = auth) =>
      call(what, '/oauth2/token', formPost('/oauth2/token', fields, headers).init);
    const issued = await tokenCall('code exchange', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT });
    expect(issued.status).toBe(200);
    const tokens = (await issued.json()) as { refresh_token: string; access_token: string; id_token: string };
    secrets.push(tokens.refresh_token, tokens.access_token, tokens.id_token);
    const refresh = (token: string) => ({ grant_type: 'refresh_token', refresh_token: token });

    const failures: [string, Response][] = [
      ['unknown refresh token', await tokenCall('unknown refresh token', refresh(secret('rt')))],
      [
        'refresh token, wrong client secret',
        await tokenCall('refresh token, wrong client secret', refresh(tokens.refresh_token), {
          authorization: `Basic ${b64(`web:${secret('websecret')}`)}`,
        }),
      ],
    ];
    const rotated = await tokenCall('refresh', refresh(tokens.refresh_token));
    expect(rotated.status).toBe(200);
    const next = (await rotated.json()) as { refresh_token: string; access_token: string; id_token: string };
    secrets.push(next.refresh_token, next.access_token, next.id_token);
    const revoke = await call(
      'revoke rt',
      '/oauth2/revoke',
      formPost('/oauth2/revoke', { token: next.refresh_token }, auth).init,
    );
    expect(revoke.status).toBe(200);
    failures.push(['revoked refresh token', await tokenCall('revoked rt', refresh(next.refresh_token))]);
    failures.push(['rotated refresh token reused', await tokenCall('rotated reused', refresh(tokens.refresh_token))]);
    failures.push([
      'code replayed',
      await tokenCall('code replayed', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
    ]);
    for (const [what, res] of failures) expect(res.status, what).toBeGreaterThanOrEqual(400);
    const introspected = await call(
      'introspect revoked rt',
      '/oauth2/introspect',
      formPost('/oauth2/introspect', { token: next.refresh_token }, auth).init,
    );
    expect(await introspected.json()).toEqual({ active: false });
  });

  it('none of them is in any answer or log line', () => {
    expect(bodies.length).toBeGreaterThan(30);
    const text = logs.text();
    expect(text).toContain('token request refused');
    for (const s of secrets) {
      expect(text.includes(s), `log contains ${s}`).toBe(false);
      // The value as it would appear inside a percent-encoded URL or a base64 header, too.
      expect(text.includes(encodeURIComponent(s)), `log contains ${s}`).toBe(false);
      for (const line of headerLines) {
        if (!ISSUING.has(line.what)) expect(line.line.includes(s), `${line.what}: ${line.line}`).toBe(false);
      }
      for (const { what, body } of bodies) {
        if (ISSUING.has(what) || OWN_INPUT.has(what)) continue;
        expect(body.includes(s), `${what} answered ${s}: ${body.slice(0, 300)}`).toBe(false);
      }
    }
  });
});
