// The server's signing keys as oidc-provider's ExternalSigningKey: each signature made by node:crypto's one-shot sign.
import { createPrivateKey, createPublicKey, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import { ExternalSigningKey } from 'oidc-provider';
import type { PrivateJwk } from './signing-keys.ts';

/** oidc-provider's name for the version of its external signing interface this class is written for. */
export const EXTERNAL_SIGNING_ACK = 'experimental-01';

/**
 * A key oidc-provider signs JWTs with (access tokens, ID tokens, userinfo and introspection JWTs) by calling `sign`.
 *
 * Why not hand it the JWK, as before: the provider then signs through jose, which goes through WebCrypto — a
 * CryptoKey looked up for the KeyObject, the algorithm's checks and a WebCrypto job for every token. node:crypto's
 * one-shot sign with a KeyObject made once makes the same signature, in OpenSSL on the same libuv pool, for about 29 µs
 * less CPU per client_credentials token (bench/README.md, "Issuance"). ExternalSigningKey is the provider's own hook
 * for a signer of one's choosing (features.externalSigningSupport, marked experimental; its acknowledgement names
 * the interface's version, so an upgrade that changes the interface fails at start rather than signing otherwise).
 */
export class LocalSigningKey extends ExternalSigningKey {
  readonly #signWith: SignKeyObjectInput | KeyObject;
  readonly #publicKey: KeyObject;

  constructor(jwk: PrivateJwk) {
    super();
    const privateKey = createPrivateKey({ key: { ...jwk }, format: 'jwk' });
    this.#publicKey = createPublicKey(privateKey);
    // JWS wants ECDSA signatures as r‖s (RFC 7518 §3.4), not node's default DER.
    this.#signWith = jwk.alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey;
    this.kid = jwk.kid;
    this.alg = jwk.alg;
  }

  /** The public half: the provider publishes it in the JWKS and verifies its own JWTs with it. */
  override keyObject(): KeyObject {
    return this.#publicKey;
  }

  /** RS256 and ES256 both hash with SHA-256; the callback form runs on the libuv pool, off the event loop. */
  override sign(data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      sign('sha256', data, this.#signWith, (err, signature) => (err === null ? resolve(signature) : reject(err)));
    });
  }
}
