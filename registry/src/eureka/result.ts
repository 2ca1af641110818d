// Parsing never throws: bodies come from clients, so every failure is a value the route turns into a 400.

export type WireErrorCode = 'malformed_body' | 'missing_field' | 'invalid_field' | 'app_mismatch';

export interface WireError {
  readonly code: WireErrorCode;
  /** The offending field in model terms (`hostName`, `dataCenterInfo.name`, …); absent for body-level errors. */
  readonly field?: string;
  /** Text for the 400 body; for Eureka's own checks it is Eureka's exact wording ("Missing hostname"). */
  readonly message: string;
}

export type WireResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: WireError };

export function ok<T>(value: T): WireResult<T> {
  return { ok: true, value };
}

export function fail(code: WireErrorCode, message: string, field?: string): { ok: false; error: WireError } {
  return { ok: false, error: field === undefined ? { code, message } : { code, field, message } };
}
