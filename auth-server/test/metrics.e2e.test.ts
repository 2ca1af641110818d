// The auth server's own meters at /actuator/prometheus after real token requests, refusals, introspection and sign-in.
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser } from '../src/manage.ts';
import { addWebClient, discover, openLoginForm, startServer, tempDir, type TestServer } from './helpers.ts';
import { parseSamples, valueIn } from '../../kit/test/support/scrape.ts';

const USER = 'metricsprobeuser';
const dir = tempDir();
let server: TestServer;
let readerSecret: string;

beforeAll(async () => {
  server = await startServer({ dataDir: dir.path });
  readerSecret = /development client reader \/ (\S+)/.exec((server.running.notes ?? []).join('\n'))?.[1] ?? '';
  await addUser({ dataDir: dir.path }, { username: USER, password: 'correct horse battery staple' });
  await addWebClient(server);
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

function post(path: string, authorization: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
}

describe('GET /actuator/prometheus on the auth server', () => {
  it('counts tokens per grant type, refusals per OAuth error, introspections, revocations and failed sign-ins', async () => {
    const reader = await discover(server.url, 'reader', readerSecret);
    const tokens: string[] = [];
    for (let n = 0; n < 2; n++) {
      tokens.push((await client.clientCredentialsGrant(reader, { scope: 'product:read' })).access_token);
    }
    const wrongSecret = 'not-the-reader-secret-0123';
    const badSecret = await post('/oauth2/token', basic('reader', wrongSecret), { grant_type: 'client_credentials' });
    expect(badSecret.status).toBe(401);
    expect(((await badSecret.json()) as { error: string }).error).toBe('invalid_client');
    const unsupported = await post('/oauth2/token', basic('reader', readerSecret), {
      grant_type: 'urn:example:made-up-grant',
    });
    expect(((await unsupported.json()) as { error: string }).error).toBe('unsupported_grant_type');

    const introspection = await client.tokenIntrospection(reader, tokens[0] ?? '');
    expect(introspection.active).toBe(true);
    const revoked = await post('/oauth2/revoke', basic('reader', readerSecret), { token: tokens[1] ?? '' });
    expect(revoked.status).toBe(200);

    const form = await openLoginForm(server.url);
    const signIn = await fetch(form.action, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: form.cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: USER, password: 'wrong password', csrf: form.csrf }),
    });
    expect(signIn.status).toBe(401);

    const res = await fetch(`${server.url}/actuator/prometheus`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const all = parseSamples(text);
    const issued = (grant_type: string) => valueIn(all, 'trellis_auth_tokens_issued_total', { grant_type });
    expect(issued('client_credentials')).toBe(2);
    expect(issued('authorization_code')).toBe(0);
    expect(issued('other')).toBe(0);
    const failures = (error: string) => valueIn(all, 'trellis_auth_token_failures_total', { error });
    expect(failures('invalid_client')).toBe(1);
    expect(failures('unsupported_grant_type')).toBe(1);
    expect(failures('invalid_grant')).toBe(0);
    expect(failures('other')).toBe(0);
    expect(valueIn(all, 'trellis_auth_introspections_total', { outcome: 'SUCCESS' })).toBe(1);
    expect(valueIn(all, 'trellis_auth_revocations_total', { outcome: 'SUCCESS' })).toBe(1);
    expect(valueIn(all, 'trellis_auth_sign_in_failures_total', { reason: 'bad_credentials' })).toBe(1);
    expect(valueIn(all, 'trellis_auth_sign_in_failures_total', { reason: 'throttled' })).toBe(0);
    expect(valueIn(all, 'trellis_auth_tokens_issued_total', { application: 'auth-server' })).toBeDefined();

    // Client ids, user names, secrets and tokens are never label values, nor anywhere in the scrape.
    const values = all.flatMap((s) => Object.values(s.labels)).join('\n');
    for (const chosen of ['reader', 'web', USER]) expect(values).not.toContain(chosen);
    for (const secret of [readerSecret, wrongSecret, ...tokens]) expect(text).not.toContain(secret);
  });
});
