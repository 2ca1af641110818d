// The cipher model's one error type and its closed set of codes.

/**
 * Why a cipher operation failed. A closed set so the HTTP layer can map every code to Spring's
 * `{status, description}` body in one exhaustive table:
 * - `invalid_ciphertext`: 400 INVALID "Text not encrypted with this key" (also: garbage, truncated, wrong key)
 * - `decryption_unsupported`: 400 BAD_REQUEST "Server-side decryption is not supported" (public key only)
 * - `no_key`: 404 NO_KEY "No key was installed for encryption service"
 * - `unknown_key`: a `{key:alias}` prefix names a key that is not installed (Spring answers 400 INVALID on /decrypt)
 * - `invalid_key`: key material or cipher options are unusable (a configuration error, found at start-up)
 * - `wrong_password`: a key store or key entry password does not open it (at start-up, or a `{secret:…}` prefix that
 *   does not unlock its key; /decrypt answers 400 INVALID then)
 */
export type CipherErrorCode =
  'invalid_ciphertext' | 'decryption_unsupported' | 'no_key' | 'unknown_key' | 'invalid_key' | 'wrong_password';

/** Spring's wording where Spring has one, so the description can be sent to clients as is. */
export const CIPHER_ERROR_MESSAGES: Readonly<Record<CipherErrorCode, string>> = Object.freeze({
  invalid_ciphertext: 'Text not encrypted with this key',
  decryption_unsupported: 'Server-side decryption is not supported',
  no_key: 'No key was installed for encryption service',
  unknown_key: 'No key is installed under the requested alias',
  invalid_key: 'Key data not in correct format (PEM or jks keystore)',
  wrong_password: 'The password does not open the key store or key',
});

/**
 * The one error type thrown by the cipher model. Messages are fixed texts chosen by this module: they never carry
 * plaintext, ciphertext, passwords or key material, so they are safe to log and to show to a client.
 *
 * @example
 * try { chain.decrypt(value) } catch (err) { if (err instanceof CipherError && err.code === 'invalid_ciphertext') … }
 */
export class CipherError extends Error {
  override readonly name = 'CipherError';
  readonly code: CipherErrorCode;

  constructor(code: CipherErrorCode, message: string = CIPHER_ERROR_MESSAGES[code], options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Type guard that also narrows the code, for `catch` blocks. */
export function isCipherError(value: unknown, code?: CipherErrorCode): value is CipherError {
  return value instanceof CipherError && (code === undefined || value.code === code);
}
