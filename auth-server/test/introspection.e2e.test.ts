// RFC 7662 introspection and RFC 7009 revocation of the server's own JWT access tokens, through openid-client (a
// real third-party client) against a running server: what a resource server in opaque-token mode, or the gateway on
// a route that must see revocations at once, relies on.
import { generateKeyPairSync } from 'node:crypto';
import * as jose from 'jose';
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover, settle, startServer, tempDir, type TestServer } from './helpers.ts';

const dir = tempDir();
let server: TestServer;
let readerSecret: string;
let writerSecret: string;
let reader: client.Configuration;
let writer: client.Configuration;
/** The seeded resource-server client, connected with the credential the component hands to the gateway. */
let gateway: client.Configuration;

const secretOf = (name: string): string =>
  new RegExp(`development client ${name} / (\\S+)`).exec((server.running.notes ?? []).join('\n'))?.[1] ?? '';

async function connect(): Promise<void> {
  reader = await discover(server.url, 'reader', readerSecret);
  writer = await discover(server.url, 'writer', writerSecret);
  const exported = server.running.exports ?? {};
  gateway = await discover(
    server.url,
    exported.GATEWAY_INTROSPECTION_CLIENT_ID ?? '',
    exported.GATEWAY_INTROSPECTION_CLIENT_SECRET ?? '',
  );
}

beforeAll(async () => {
  server = await startServer({ dataDir: dir.path });
  readerSecret = secretOf('reader');
  writerSecret = secretOf('writer');
  await connect();
});
afterAll(async () => {
  await server.running.stop();
  dir.remove();
});

/** The revocation endpoint's answer as a caller sees it, with plain fetch. */
async function revokeAs(clientId: string, secret: string, token: string) {
  const res = await fetch(`${server.url}/oauth2/revoke`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ token }),
  });
  // Every header but the two that differ on every answer.
  const headers = [...res.headers].filter(([name]) => name !== 'date' && name !== 'x-request-id');
  return { status: res.status, headers, body: await res.text() };
}

const readToken = async (): Promise<string> =>
  (await client.clientCredentialsGrant(reader, { scope: 'product:read' })).access_token;

describe('introspection of JWT access tokens (RFC 7662)', () => {
  it('answers active with what the token says, to the client it was issued to', async () => {
    const token = await readToken();
    const claims = jose.decodeJwt(token);
    const answer = await client.tokenIntrospection(reader, token);
    expect(answer).toMatchObject({
      active: true,
      client_id: 'reader',
      scope: 'product:read',
      sub: 'reader',
      iss: server.url,
      aud: 'product-api',
      token_type: 'Bearer',
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
    });
  });

  it('answers a designated resource server (the seeded gateway) about any client’s token', async () => {
    const answer = await client.tokenIntrospection(gateway, await readToken());
    expect(answer.active).toBe(true);
    expect(answer.client_id).toBe('reader');
  });

  it('answers any other client inactive for a token not issued to it, as if it were unknown (RFC 7662 §4)', async () => {
    const writerToken = (await client.clientCredentialsGrant(writer, { scope: 'product:write' })).access_token;
    expect(await client.tokenIntrospection(reader, writerToken)).toEqual({ active: false });
    expect(await client.tokenIntrospection(writer, await readToken())).toEqual({ active: false });
    // Its own tokens still answer.
    expect((await client.tokenIntrospection(writer, writerToken)).active).toBe(true);
  });

  it('answers inactive, saying nothing more, for a forged signature, a foreign key or garbage', async () => {
    const token = await readToken();
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('not the signature').toString('base64url')}`;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const foreign = await new jose.SignJWT(jose.decodeJwt(token))
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: jose.decodeProtectedHeader(token).kid ?? '' })
      .sign(privateKey);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    for (const bad of [forged, foreign, none, 'a.b.c']) {
      expect(await client.tokenIntrospection(reader, bad)).toEqual({ active: false });
    }
  });

  it('still answers for a token signed by a key rotated out but still published', async () => {
    const token = await readToken();
    expect((await server.admin('POST', '/admin/keys/rotate')).status).toBe(201);
    expect((await client.tokenIntrospection(reader, token)).active).toBe(true);
  });

  it('refuses a client without valid credentials with 401 invalid_client', async () => {
    const token = await readToken();
    const bad = await discover(server.url, 'writer', 'not-the-secret');
    const err = await client.tokenIntrospection(bad, token).catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(401);
  });
});

describe('revocation of JWT access tokens (RFC 7009)', () => {
  let revoked: string;

  it('by the client it was issued to: introspection answers inactive from then on', async () => {
    revoked = await readToken();
    expect((await client.tokenIntrospection(reader, revoked)).active).toBe(true);
    await client.tokenRevocation(reader, revoked, { token_type_hint: 'access_token' });
    expect(await client.tokenIntrospection(reader, revoked)).toEqual({ active: false });
    expect(await client.tokenIntrospection(gateway, revoked)).toEqual({ active: false });
    // The client's other tokens, and new ones, are not affected.
    expect((await client.tokenIntrospection(reader, await readToken())).active).toBe(true);
  });

  it('answers another client exactly as for an unknown token (RFC 7009 §2.1), and the token stays active', async () => {
    const token = await readToken();
    // openid-client takes both as done.
    await client.tokenRevocation(writer, token, { token_type_hint: 'access_token' });
    expect((await client.tokenIntrospection(reader, token)).active).toBe(true);
    // On the wire, nothing tells a live foreign token from a forged one or garbage.
    const [header, payload] = token.split('.');
    const forged = `${header}.${payload}.${Buffer.from('x').toString('base64url')}`;
    const answers = await Promise.all([token, forged, 'garbage'].map((t) => revokeAs('writer', writerSecret, t)));
    expect(answers[0]).toMatchObject({ status: 200, body: '' });
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    expect((await client.tokenIntrospection(reader, token)).active).toBe(true);
  });

  it('answers 200 to a token that is not ours, as RFC 7009 §2.2 asks, changing nothing', async () => {
    const token = await readToken();
    const [header, payload] = token.split('.');
    await client.tokenRevocation(reader, `${header}.${payload}.${Buffer.from('x').toString('base64url')}`);
    expect((await client.tokenIntrospection(reader, token)).active).toBe(true);
  });

  it('survives a restart on the same data dir', async () => {
    const port = new URL(server.url).port;
    await server.running.stop();
    await settle();
    server = await startServer({ dataDir: dir.path, argv: ['--port', port] });
    await connect();
    expect(await client.tokenIntrospection(reader, revoked)).toEqual({ active: false });
  });

  it('makes a deleted client’s tokens inactive', async () => {
    const created = await server.admin('POST', '/admin/clients', { client_id: 'gone', scope: 'product:read' });
    const { client_secret } = (await created.json()) as { client_secret: string };
    const gone = await discover(server.url, 'gone', client_secret);
    const token = (await client.clientCredentialsGrant(gone, { scope: 'product:read' })).access_token;
    expect((await client.tokenIntrospection(gateway, token)).active).toBe(true);
    expect((await server.admin('DELETE', '/admin/clients/gone')).status).toBe(204);
    expect((await client.tokenIntrospection(gateway, token)).active).toBe(false);
  });
});

describe('who may introspect other clients’ tokens', () => {
  it('hands the gateway’s credential to the components after it, never in the printed notes', () => {
    const exported = server.running.exports ?? {};
    expect(exported.GATEWAY_INTROSPECTION_CLIENT_ID).toBe('gateway');
    expect(exported.GATEWAY_INTROSPECTION_CLIENT_SECRET).toMatch(/^[\w-]{20,}$/);
    expect((server.running.notes ?? []).join('\n')).not.toContain(exported.GATEWAY_INTROSPECTION_CLIENT_SECRET);
  });

  it('gives the seeded gateway client nothing but client credentials and the least scope', async () => {
    const shown = (await (await server.admin('GET', '/admin/clients/gateway')).json()) as Record<string, unknown>;
    expect(shown).toMatchObject({ grant_types: ['client_credentials'], scope: 'openid', redirect_uris: [] });
    const err = await client.clientCredentialsGrant(gateway, { scope: 'product:read' }).catch((e: unknown) => e);
    expect((err as client.ResponseBodyError).error).toBe('invalid_scope');
  });

  it('lets the clients named in AUTH_INTROSPECTION_CLIENTS introspect any token, confidential ones only', async () => {
    const other = tempDir();
    const named = await startServer({ dataDir: other.path, env: { AUTH_INTROSPECTION_CLIENTS: 'writer,spa' } });
    try {
      const notes = (named.running.notes ?? []).join('\n');
      const secret = (name: string): string => new RegExp(`development client ${name} / (\\S+)`).exec(notes)?.[1] ?? '';
      const namedReader = await discover(named.url, 'reader', secret('reader'));
      const namedWriter = await discover(named.url, 'writer', secret('writer'));
      const token = (await client.clientCredentialsGrant(namedReader, { scope: 'product:read' })).access_token;
      expect((await client.tokenIntrospection(namedWriter, token)).active).toBe(true);
      // A public client cannot be a resource server: anyone can present its id.
      const created = await named.admin('POST', '/admin/clients', {
        client_id: 'spa',
        redirect_uris: ['http://127.0.0.1:1/cb'],
        token_endpoint_auth_method: 'none',
      });
      expect(created.status).toBe(201);
      const spa = await discover(named.url, 'spa');
      expect(await client.tokenIntrospection(spa, token)).toEqual({ active: false });
    } finally {
      await named.running.stop();
      other.remove();
    }
  });
});
