// The peers scenario's auth rows: the Trellis auth server against Spring Authorization Server on client_credentials
// issuance of RS256 JWT access tokens, then memory and start-up.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { load, type LoadOptions } from '../harness.ts';
import { buildPeer, measure, type Probe } from '../peers.ts';
import { memory, race, spring, startUps, trellis, type Running } from '../race.ts';
import type { ScenarioContext } from '../scenario.ts';
import { registerClient } from './security.ts';

const FORM = 'application/x-www-form-urlencoded';
const TOKEN_REQUEST = 'grant_type=client_credentials&scope=product%3Aread';
/** The Spring peer's reference client, its secret in BCrypt (bench/peers/authorization-server's properties). */
const BCRYPT_CLIENT = { id: 'bench-bcrypt', secret: 'bench-bcrypt-only-on-loopback' };

const basic = (id: string, secret: string): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** POST /oauth2/token, client_credentials, client_secret_basic: the workload, and the start-up probe. */
function tokenRequest(url: string, client: { id: string; secret: string }): LoadOptions {
  return {
    url: `${url}/oauth2/token`,
    method: 'POST',
    headers: { authorization: basic(client.id, client.secret), 'content-type': FORM },
    body: TOKEN_REQUEST,
  };
}

const tokenProbe = (client: { id: string; secret: string }): Probe => ({
  path: '/oauth2/token',
  method: 'POST',
  headers: { authorization: basic(client.id, client.secret), 'content-type': FORM },
  body: TOKEN_REQUEST,
});

/**
 * Spring's MessageDigestPasswordEncoder("SHA-256") form, `{SHA-256}{salt}hex(sha256(secret + "{salt}"))`: one salted
 * SHA-256 with a constant-time comparison, the nearest of Spring's encoders to the Trellis auth server's check (an
 * HMAC-SHA256 keyed with a pepper, `auth-server/src/crypto/secrets.ts`). Both suit generated 256-bit secrets.
 */
function sha256Secret(secret: string): string {
  const salt = `{${randomBytes(32).toString('base64')}}`;
  return `{SHA-256}${salt}${createHash('sha256').update(`${secret}${salt}`, 'utf8').digest('hex')}`;
}

/** One token request, so a misconfigured side fails here with a reason rather than as a column of non-2xx answers. */
async function checkIssues(label: string, options: LoadOptions): Promise<void> {
  const res = await fetch(options.url, { method: 'POST', headers: options.headers, body: options.body });
  const token = ((await res.json()) as { access_token?: string }).access_token;
  const header = JSON.parse(Buffer.from(token?.split('.')[0] ?? '', 'base64url').toString() || '{}') as {
    alg?: string;
  };
  if (res.status !== 200 || header.alg !== 'RS256') {
    throw new Error(`bench: ${label}'s token endpoint answered ${res.status} without an RS256 JWT access token`);
  }
}

export async function authorizationServer(figure: ScenarioContext['figure'], dir: string, java: string): Promise<void> {
  const jar = await buildPeer('authorization-server');
  const registrationToken = randomBytes(24).toString('base64url');
  const trellisEnv = {
    TRELLIS_DATA_DIR: join(dir, 'auth'),
    AUTH_REGISTRATION_TOKEN: registrationToken,
    AUTH_SEED_DEV_CLIENTS: 'false',
  };
  const springClient = { id: 'bench', secret: randomBytes(32).toString('base64url') };
  const springEnv = { BENCH_CLIENT_SECRET_HASH: sha256Secret(springClient.secret) };
  const springProbe = tokenProbe(springClient);

  // The first Trellis start has no client yet: it is probed on its JWKS, and the client registered once it serves.
  const trellisServer = await trellis(['auth-server'], trellisEnv, { path: '/oauth2/jwks' });
  let peer: Running | undefined;
  let trellisClient: { id: string; secret: string };
  try {
    peer = await spring('authorization-server', jar, springProbe, [], springEnv);
    const servers = { trellis: trellisServer, peer };
    trellisClient = await registerClient(servers.trellis.url, registrationToken);
    const requests = {
      trellis: tokenRequest(servers.trellis.url, trellisClient),
      peer: tokenRequest(servers.peer.url, springClient),
    };
    await checkIssues('Trellis', requests.trellis);
    await checkIssues('Spring Authorization Server', requests.peer);
    await race(
      figure,
      'client_credentials issuance, RS256 JWT (POST /oauth2/token)',
      'Spring AS',
      { ...servers, load: (_url, side) => requests[side] },
      {
        target: 2,
        note: 'client secret: Trellis peppered HMAC-SHA256, Spring {SHA-256} (MessageDigestPasswordEncoder); Trellis SQLite, logs at info; Spring in-memory stores',
      },
    );
    // Spring's default encoder, BCrypt (strength 10), on the same warm server: what an application that keeps the
    // default gets. Four connections: BCrypt takes tens of ms a check, and 50 would only queue past wrk's timeout.
    const bcrypt = { ...tokenRequest(servers.peer.url, BCRYPT_CLIENT), connections: 4 };
    await checkIssues('Spring Authorization Server (BCrypt client)', bcrypt);
    await load({ ...bcrypt, warm: true, durationSec: 2 });
    const withBcrypt = await measure(servers.peer.pid, bcrypt);
    figure('client_credentials issuance, client secret in BCrypt: Spring AS', withBcrypt.requestsPerSec, 'req/s', {
      note: `for reference: Spring's default encoder (BCrypt, strength 10); 4 connections, p50 ${withBcrypt.p50Ms.toFixed(0)} ms; server CPU ${Math.round(withBcrypt.cpuUsPerRequest)} µs/request${withBcrypt.errors + withBcrypt.non2xx > 0 ? `; ${withBcrypt.errors + withBcrypt.non2xx} FAILED requests` : ''}`,
    });
    await memory(figure, 'auth', 'Spring AS', servers, {
      note: "Spring keeps every issued token's authorization in memory (its default InMemoryOAuth2AuthorizationService)",
    });
  } finally {
    await trellisServer.stop();
    await peer?.stop();
  }

  // Restarts of the same data directory, which holds the registered client, so both sides are probed on a token.
  await startUps(figure, 'auth', () => trellis(['auth-server'], trellisEnv, tokenProbe(trellisClient)), [
    {
      label: 'Spring AS',
      start: () => spring('authorization-server', jar, springProbe, [], springEnv),
      max: 0.5,
      note: java,
    },
  ]);
}
