// Security: the JWT guard on a kit route, and client_credentials token issuance against the RS256 ceiling.
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../harness.ts';
import { AUDIENCE, ISSUER, tokenAndJwks } from '../jwt.ts';
import { pairedRounds, range, ROUNDS } from '../race.ts';
import type { Figure, Scenario, ScenarioContext } from '../scenario.ts';
import { median } from '../stats.ts';

/** Registers a client_credentials client through RFC 7591 dynamic registration; answers its id and secret. */
export async function registerClient(url: string, initialAccessToken: string): Promise<{ id: string; secret: string }> {
  const res = await fetch(`${url}/oauth2/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${initialAccessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'bench', grant_types: ['client_credentials'], scope: 'product:read' }),
  });
  const body = (await res.json()) as { client_id?: string; client_secret?: string };
  if (res.status !== 201 || body.client_id === undefined || body.client_secret === undefined) {
    throw new Error(`bench: registering a client answered ${res.status}`);
  }
  return { id: body.client_id, secret: body.client_secret };
}

/** RSA-2048 SHA-256 signatures one core makes per second (node:crypto, OpenSSL), timed over about a second. */
function rsaSignaturesPerSecond(privateKey: KeyObject): number {
  const data = Buffer.alloc(700, 1); // about the size of an access token's signing input
  let count = 0;
  const started = performance.now();
  while (performance.now() - started < 1000) {
    sign('sha256', data, privateKey);
    count++;
  }
  return count / ((performance.now() - started) / 1000);
}

/**
 * Issuance: POST /oauth2/token with grant_type=client_credentials (client_secret_basic) on the auth server as
 * `trellis auth-server` runs it (SQLite, logs at info), each answer a freshly signed JWT access token. RS256, the
 * default that Spring resource servers expect, carries the target; ES256 shows what the rest of the request costs.
 */
async function issuance(compare: ScenarioContext['compare'], alg: 'RS256' | 'ES256'): Promise<Figure> {
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-auth-'));
  const registrationToken = randomBytes(24).toString('base64url');
  const server = await startServer('auth-server.ts', [dataDir], {
    AUTH_REGISTRATION_TOKEN: registrationToken,
    AUTH_SIGNING_ALG: alg,
  });
  try {
    const client = await registerClient(server.url, registrationToken);
    const basic = Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(client.secret)}`).toString(
      'base64',
    );
    const request = {
      url: `${server.url}/oauth2/token`,
      method: 'POST' as const,
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=product%3Aread',
    };
    // One request first: a misconfigured run fails here with a reason, not as a column of non-2xx answers.
    const first = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body });
    const token = ((await first.json()) as { access_token?: string }).access_token;
    if (first.status !== 200 || token?.split('.').length !== 3) {
      throw new Error(`bench: the token endpoint answered ${first.status} without a JWT access token`);
    }
    if (alg === 'RS256') {
      return await compare('client_credentials JWT issuance (POST /oauth2/token)', request, {
        target: 0.1,
        note: 'RS256 (default), client_secret_basic, SQLite, logs at info',
      });
    }
    return await compare('client_credentials issuance, ES256 keys', request, {
      note: 'for reference: the same request with a cheap signature',
    });
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * The resource-server guard's cost: one valid RS256 token (as client_credentials clients send: the same token for its
 * lifetime) on a guarded route, against the bare baseline and, in µs per request, against the same service's unguarded
 * route; the guard with its verified-token cache off (an RSA verification per request) for reference. Then the auth
 * server's token issuance.
 */
export const security: Scenario = {
  name: 'security',
  async run({ compare, figure }) {
    const { token, jwks, privateKey } = tokenAndJwks();
    const headers = { authorization: `Bearer ${token}` };
    const server = await startServer('guarded-service.ts', [], {
      BENCH_JWKS: jwks,
      BENCH_ISSUER: ISSUER,
      BENCH_AUDIENCE: AUDIENCE,
    });
    try {
      // The unguarded route first: it also warms the server up, so the guarded figure does not pay for start-up JIT.
      await compare('same service, unguarded GET /open', { url: `${server.url}/open` }, { note: 'for reference' });
      await compare(
        'guarded GET /product (RS256 JWT)',
        { url: `${server.url}/product`, headers },
        { target: 0.7, note: 'log level warn; compare with the unguarded route above' },
      );
      // The guard's own cost: the same request (token included, so not the parsing of its 600 bytes) to both routes,
      // just driven for the figures above and so warm. Many short rounds: other work on a shared two-core machine
      // comes and goes within seconds, and a short pair meets it on both sides.
      const rounds = await pairedRounds(
        [server.pid, { url: `${server.url}/product`, headers }],
        [server.pid, { url: `${server.url}/open`, headers }],
        { rounds: 3 * ROUNDS, durationSec: 1 },
      );
      const cpu = rounds.map(([g, o]) => g.cpuUsPerRequest - o.cpuUsPerRequest);
      const wall = rounds.map(([g, o]) => 1e6 / g.requestsPerSec - 1e6 / o.requestsPerSec);
      // A refused request is cheap: any failure voids the figure rather than flattering it.
      const failed = rounds.flat().reduce((n, r) => n + r.errors + r.non2xx, 0);
      figure('guard cost: guarded - unguarded route, server CPU per request', failed > 0 ? NaN : median(cpu), 'µs', {
        max: 3,
        note: [
          `median of ${rounds.length} alternating paired 1 s rounds, ${range(cpu)} µs`,
          'server CPU time (utime+stime from /proc) / requests, as wall clock moves with the rest of a shared machine',
          `wall clock (1e6 / req/s) ${median(wall).toFixed(2)} µs, ${range(wall)}`,
          failed > 0 ? `${failed} FAILED requests` : '',
        ]
          .filter(Boolean)
          .join('; '),
      });
      await compare(
        'guarded, verified-token cache off',
        { url: `${server.url}/product-uncached`, headers },
        { note: 'an RSA verification per request, for reference' },
      );
    } finally {
      await server.stop();
    }
    const plain = await startServer('guarded-hono.ts', [], {
      BENCH_JWKS: jwks,
      BENCH_ISSUER: ISSUER,
      BENCH_AUDIENCE: AUDIENCE,
    });
    try {
      await compare(
        'guard on plain hono (no kit), GET /product',
        { url: `${plain.url}/product`, headers },
        { note: "for reference: the guard's cost over its framework alone, without the kit's request handling" },
      );
    } finally {
      await plain.stop();
    }
    const issued = await issuance(compare, 'RS256');
    // Every RS256 token costs one RSA-2048 signature, so no issuer on this machine can beat every core signing and
    // doing nothing else: the ceiling the issuance target has to fit under, measured in the same run.
    const perCore = rsaSignaturesPerSecond(privateKey);
    const cores = availableParallelism();
    figure(
      'RS256 ceiling: RSA-2048 signatures/s on every core / baseline',
      (perCore * cores) / (issued.baseline ?? NaN),
      'ratio',
      {
        note: `${Math.round(perCore)} signatures/s per core x ${cores} cores, nothing else running (not even the load generator)`,
      },
    );
    await issuance(compare, 'ES256');
  },
};
