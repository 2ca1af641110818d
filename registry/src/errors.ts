// The registry's errors. Eureka fixes their shape: no JSON, a short text for 400s (Eureka's own wording where it
// has one) and empty bodies for 404s, because Java clients try to read any 4xx body of a heartbeat as an
// InstanceInfo and fail on text.
import { TrellisError } from '@trellis/clients';

export type RegistryErrorCode =
  'invalid_request' | 'unknown_application' | 'unknown_instance' | 'unauthorized' | 'forbidden' | 'unavailable';

const STATUS = {
  invalid_request: 400,
  unknown_application: 404,
  unknown_instance: 404,
  unauthorized: 401,
  forbidden: 403,
  unavailable: 503,
} as const satisfies Record<RegistryErrorCode, number>;

export class RegistryError extends TrellisError<RegistryErrorCode> {
  /** For 401: the WWW-Authenticate challenge. */
  readonly challenge: string | undefined;

  constructor(code: RegistryErrorCode, message: string, options: { challenge?: string; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.challenge = options.challenge;
  }

  get status(): 400 | 401 | 403 | 404 | 503 {
    return STATUS[this.code];
  }

  /** Whether the body carries the message; 404s stay empty, as Eureka's. */
  get hasBody(): boolean {
    return this.status !== 404;
  }
}
