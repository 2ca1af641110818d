import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { LocalSigningKey } from '../../src/crypto/local-signing-key.ts';
import type { PrivateJwk, SigningAlg } from '../../src/crypto/signing-keys.ts';

function jwkFor(alg: SigningAlg): PrivateJwk {
  const { privateKey } =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg, use: 'sig' };
}

/** A compact JWS made the way oidc-provider makes one with an external key: header.payload, then `sign`. */
async function jws(key: LocalSigningKey, alg: SigningAlg): Promise<string> {
  const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg, kid: key.kid })}.${encode({ sub: 'someone' })}`;
  return `${input}.${(await key.sign(Buffer.from(input))).toString('base64url')}`;
}

describe('LocalSigningKey', () => {
  for (const alg of ['RS256', 'ES256'] as const) {
    it(`makes ${alg} signatures that jose verifies with the published key, and with no other`, async () => {
      const jwk = jwkFor(alg);
      const key = new LocalSigningKey(jwk);
      expect({ kid: key.kid, alg: key.alg, use: key.use }).toEqual({ kid: jwk.kid, alg, use: 'sig' });
      const token = await jws(key, alg);
      // What the JWKS publishes: the public half only.
      const published = key.keyObject().export({ format: 'jwk' });
      expect(published).not.toHaveProperty('d');
      const { payload } = await compactVerify(token, await importJWK({ ...published, alg }, alg));
      expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ sub: 'someone' });
      const other = new LocalSigningKey(jwkFor(alg)).keyObject();
      await expect(compactVerify(token, other)).rejects.toThrow(/signature verification failed/);
    });
  }
});
