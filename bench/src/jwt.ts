// A signed RS256 access token and the JWKS that verifies it, for the scenarios that put a token check under load.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const ISSUER = 'https://auth.bench.local';
export const AUDIENCE = 'product-api';

/**
 * An RS256 access token (scope product:read, an hour long) and its JWKS, from a fresh RSA-2048 key made with
 * node:crypto: bench does not depend on jose, and the servers under test verify it like any other JWT.
 */
export function tokenAndJwks(): { token: string; jwks: string; privateKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-1', alg: 'RS256', use: 'sig' };
  const now = Math.floor(Date.now() / 1000);
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })}.${part({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'reader',
    client_id: 'reader',
    scope: 'product:read',
    iat: now,
    exp: now + 3600,
  })}`;
  return {
    token: `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`,
    jwks: JSON.stringify({ keys: [jwk] }),
    privateKey,
  };
}

/** The JWKS served on a free loopback port, as an authorization server would: `uri` to hand to the token checks. */
export async function serveJwks(jwks: string): Promise<{ uri: string; close: () => void }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(jwks);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
    close: () => server.close(),
  };
}
