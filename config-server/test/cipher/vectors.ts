// The recorded Spring vectors (made by Spring Security's own classes on OpenJDK 17), typed for the tests.
import { readFileSync } from 'node:fs';
import type { RsaAlgorithm } from '../../src/cipher/index.ts';

export interface SymmetricVector {
  readonly key: string;
  readonly salt: string;
  readonly plaintext: string;
  readonly ciphertext: string;
  readonly cipherProperty: string;
  readonly nodeGeneratedCiphertext: string;
}

export interface AsymmetricVector {
  readonly config: string;
  readonly algorithm: RsaAlgorithm;
  readonly salt: string;
  readonly strong: boolean;
  readonly plaintext: string;
  readonly ciphertext: string;
  readonly cipherProperty: string;
  readonly nodeGeneratedCiphertext: string;
  readonly layout: {
    readonly totalBytes: number;
    readonly lengthPrefix: string;
    readonly rsaBlockBytes: number;
    readonly aesIvBytes: number;
    readonly aesBodyBytes: number;
    readonly gcmTagBytes: number;
  };
}

export interface SpringCipherVectors {
  readonly symmetric: { readonly vectors: readonly SymmetricVector[] };
  readonly asymmetric: {
    readonly privateKeyPem: string;
    readonly publicKeySpkiPem: string;
    readonly springKeyEndpointFormat: string;
    readonly vectors: readonly AsymmetricVector[];
  };
}

export const vectors = JSON.parse(
  readFileSync(new URL('../../../../shared/interop/spring-cipher-vectors.json', import.meta.url), 'utf8'),
) as SpringCipherVectors;

export const rsaPem = vectors.asymmetric.privateKeyPem;
