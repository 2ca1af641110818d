// PKCS#1 v1.5 (type 2) unpadding written to run in the same time whatever the padding looks like.
//
// Node >= 20.11 refuses RSA_PKCS1_PADDING in privateDecrypt (CVE-2023-46809, the Marvin attack) because a decryptor
// that reveals *whether* the padding was valid, even only through timing, lets an attacker decrypt any ciphertext
// (Bleichenbacher). So we take the raw RSA result (RSA_NO_PADDING) and check the padding here, with no branch or early
// return that depends on the bytes. On bad padding we return a substitute message ("implicit rejection"): the caller
// then fails later, at the AES step, exactly as it does for a well-padded block holding the wrong secret.
//
// Spring always wraps a 16-byte secret, so the message length is known up front; that fixes the position of the zero
// separator and lets the check be a plain scan of every byte instead of a secret-dependent search.

/** 1 when x (a byte) is zero, else 0, without a branch. */
function zeroBit(x: number): number {
  return ((x - 1) >> 8) & 1;
}

/**
 * Returns the `messageLength`-byte message of the encoded block `em` if it is a well-formed EME-PKCS1-v1_5 block for
 * exactly that length (00 02 PS(≥8 non-zero bytes) 00 M), else `fallback`. Time does not depend on which.
 * `em` must be the full modulus length; `fallback` must be `messageLength` bytes.
 */
export function selectPkcs1v15Message(em: Uint8Array, messageLength: number, fallback: Uint8Array): Buffer {
  const k = em.length;
  const separator = k - messageLength - 1;
  // Public facts (key size, fixed length): checked up front, they say nothing about the secret.
  if (separator < 10 || fallback.length !== messageLength) {
    throw new RangeError('PKCS#1 v1.5 block too small for the message length');
  }
  let bad = (em[0] ?? 0) | ((em[1] ?? 0) ^ 0x02);
  for (let i = 2; i < separator; i++) bad |= zeroBit(em[i] ?? 0);
  bad |= em[separator] ?? 0;
  // bad is 0..255; turn "non-zero" into an all-ones byte mask for the fallback and its inverse for the message.
  const useFallback = -((bad | -bad) >>> 31) & 0xff;
  const keep = ~useFallback & 0xff;
  const out = Buffer.alloc(messageLength);
  for (let i = 0; i < messageLength; i++) {
    out[i] = ((em[separator + 1 + i] ?? 0) & keep) | ((fallback[i] ?? 0) & useFallback);
  }
  return out;
}
