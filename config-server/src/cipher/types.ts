// The text encryptors' shapes, symmetric and RSA, as one closed union.

/** Spring's `RsaAlgorithm`: DEFAULT = JCE "RSA" (PKCS#1 v1.5), OAEP = "RSA/ECB/OAEPPadding" (SHA-1, MGF1-SHA-1). */
export type RsaAlgorithm = 'DEFAULT' | 'OAEP';

interface TextEncryptorBase {
  /** False for an RSA encryptor built from a public key only: it encrypts, but decrypt throws. */
  readonly canDecrypt: boolean;
  /** Encrypts UTF-8 text into Spring's wire format (hex for symmetric, base64 for RSA), without any prefix. */
  encrypt(text: string): string;
  /** Reverses {@link encrypt} for a bare payload (no `{cipher}` or `{key:…}` prefix). Throws `CipherError`. */
  decrypt(cipherText: string): string;
}

/** Spring's `Encryptors.text(password, salt)`: output is lowercase hex(IV ‖ AES-CBC ciphertext). */
export interface SymmetricEncryptor extends TextEncryptorBase {
  readonly kind: 'symmetric';
}

/** Spring's `RsaSecretEncryptor`: output is base64(u16 len ‖ RSA(secret) ‖ AES(payload)). */
export interface RsaEncryptor extends TextEncryptorBase {
  readonly kind: 'rsa';
  readonly algorithm: RsaAlgorithm;
  /** AES/GCM instead of AES/CBC for the payload. */
  readonly strong: boolean;
  /** Modulus size; the RSA block in every ciphertext is this many bits. */
  readonly modulusBits: number;
  /** The body of `GET /key`: `ssh-rsa <base64> <comment>`, comment `application` as Spring writes it. */
  sshPublicKey(comment?: string): string;
}

/** Closed union so callers can switch on `kind` (for example to answer `/key` only for RSA keys). */
export type TextEncryptor = SymmetricEncryptor | RsaEncryptor;
