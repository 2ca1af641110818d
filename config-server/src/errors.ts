// The config server's one error class: a closed union of codes, each with its HTTP status.
import { TrellisError } from '@trellis/kit';

/**
 * Every way a config-server request can fail on purpose. The encryption codes carry Spring's `{status, description}`
 * bodies (EncryptionController); the others Spring Boot's error JSON.
 */
export type ConfigServerErrorCode =
  | 'invalid_request'
  | 'invalid_profile'
  | 'no_such_label'
  | 'no_such_repository'
  | 'no_such_resource'
  | 'unauthorized'
  | 'forbidden'
  | 'cross_site'
  | 'unsupported_media_type'
  | 'too_many_failures'
  | 'no_key'
  | 'invalid_cipher'
  | 'decryption_unsupported'
  | 'no_public_key'
  | 'empty_text'
  | 'no_such_change'
  | 'write_api_off'
  | 'payload_too_large'
  | 'backend_unavailable'
  | 'unavailable';

const STATUS = {
  invalid_request: 400,
  invalid_profile: 400,
  no_such_label: 404,
  no_such_repository: 404,
  no_such_resource: 404,
  unauthorized: 401,
  forbidden: 403,
  cross_site: 403,
  unsupported_media_type: 415,
  too_many_failures: 429,
  no_key: 404,
  invalid_cipher: 400,
  decryption_unsupported: 400,
  no_public_key: 404,
  empty_text: 400,
  no_such_change: 404,
  write_api_off: 403,
  payload_too_large: 413,
  backend_unavailable: 503,
  unavailable: 503,
} as const satisfies Record<ConfigServerErrorCode, number>;

/** Spring's `status` words for the encryption errors; undefined for codes rendered in Spring Boot's error shape. */
const SPRING_ENCRYPTION_STATUS: Readonly<Partial<Record<ConfigServerErrorCode, string>>> = {
  no_key: 'NO_KEY',
  invalid_cipher: 'INVALID',
  decryption_unsupported: 'BAD_REQUEST',
  no_public_key: 'NOT_FOUND',
  empty_text: 'BAD_REQUEST',
};

export class ConfigServerError extends TrellisError<ConfigServerErrorCode> {
  /** Sent as Retry-After: when a refused request (a watch stream beyond its cap) may be tried again. */
  readonly retryAfterSecs: number | undefined;

  constructor(
    code: ConfigServerErrorCode,
    message: string,
    options: { retryAfterSecs?: number; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.retryAfterSecs = options.retryAfterSecs;
  }

  get status(): number {
    return STATUS[this.code];
  }

  /** `NO_KEY`, `INVALID`…: set for errors whose body is Spring's `{status, description}`. */
  get springStatus(): string | undefined {
    return SPRING_ENCRYPTION_STATUS[this.code];
  }
}

export function isConfigServerError(err: unknown): err is ConfigServerError {
  return err instanceof ConfigServerError;
}
