import { generateKeyPairSync, sign } from 'node:crypto';
import { startServer } from '../harness.ts';
import type { Scenario } from '../scenario.ts';

const ISSUER = 'https://auth.bench.local';
const AUDIENCE = 'product-api';

/**
 * The resource-server guard's cost: one valid RS256 token (as client_credentials clients send: the same token for its
 * lifetime) on a guarded route, against the bare baseline; the same service's unguarded route and the guard with its
 * verified-token cache off (an RSA verification per request) for reference.
 */
export const security: Scenario = {
  name: 'security',
  async run({ compare }) {
    // Signed with node:crypto (bench does not depend on jose); the guard verifies it with jose like any other JWT.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'bench-1', alg: 'RS256', use: 'sig' };
    const jwks = JSON.stringify({ keys: [jwk] });
    const now = Math.floor(Date.now() / 1000);
    const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
    const signingInput = `${part({ alg: 'RS256', kid: 'bench-1', typ: 'at+jwt' })}.${part({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'reader',
      client_id: 'reader',
      scope: 'product:read',
      iat: now,
      exp: now + 3600,
    })}`;
    const token = `${signingInput}.${sign('sha256', Buffer.from(signingInput), privateKey).toString('base64url')}`;
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
      await compare(
        'guarded, verified-token cache off',
        { url: `${server.url}/product-uncached`, headers },
        { note: 'an RSA verification per request, for reference' },
      );
    } finally {
      await server.stop();
    }
  },
};
