// The registry's errors. Eureka fixes their shape: no JSON, a short text for 400s (Eureka's own wording where it
// has one) and empty bodies for 404s, because Java clients try to read any 4xx body of a heartbeat as an
// InstanceInfo and fail on text.
import { TrellisError } from '@trellis/kit';

export type RegistryErrorCode =
  | 'invalid_request'
  | 'unknown_application'
  | 'unknown_instance'
  | 'unauthorized'
  | 'forbidden'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'limit_reached'
  | 'conflict'
  | 'unavailable';

const STATUS = {
  invalid_request: 400,
  unknown_application: 404,
  unknown_instance: 404,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  // A body that is neither JSON nor XML: text/plain and forms are what a web page may send cross-site unasked.
  unsupported_media_type: 415,
  // The registry is full for this application (or in all): room comes back as instances cancel or expire.
  limit_reached: 429,
  // The instance id is held by another application: it is free again once that instance is cancelled or expires.
  conflict: 409,
  unavailable: 503,
} as const satisfies Record<RegistryErrorCode, number>;

export class RegistryError extends TrellisError<RegistryErrorCode> {
  /** For 401: the WWW-Authenticate challenge. */
  readonly challenge: string | undefined;
  /** For 503: the Retry-After, in seconds. */
  readonly retryAfterSecs: number | undefined;

  constructor(
    code: RegistryErrorCode,
    message: string,
    options: { challenge?: string; retryAfterSecs?: number; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.challenge = options.challenge;
    this.retryAfterSecs = options.retryAfterSecs;
  }

  get status(): (typeof STATUS)[RegistryErrorCode] {
    return STATUS[this.code];
  }

  /** Whether the body carries the message; 404s stay empty, as Eureka's. */
  get hasBody(): boolean {
    return this.status !== 404;
  }
}

/** Why a write was refused by a registry limit (registry/limits.ts decides; the kind picks the status). */
export interface LimitViolation {
  readonly kind: 'too_large' | 'too_many' | 'invalid' | 'taken';
  readonly message: string;
}

const VIOLATION_CODES = {
  invalid: 'invalid_request',
  too_large: 'payload_too_large',
  too_many: 'limit_reached',
  taken: 'conflict',
} as const satisfies Record<LimitViolation['kind'], RegistryErrorCode>;

/** A refused write as the error the API answers (400, 409, 413 or 429 with the reason). */
export function limitError(violation: LimitViolation): RegistryError {
  return new RegistryError(VIOLATION_CODES[violation.kind], violation.message);
}
