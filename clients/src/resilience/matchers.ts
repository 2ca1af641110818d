// Matching errors against Resilience4j's exception lists, and describing an error in one line.
import { isTrellisError } from '@trellis/kit';

// Resilience4j names exception classes in recordExceptions / ignoreExceptions / retryExceptions. Configuration served
// to Node services names errors the way they are told apart here: by `name`, by a class in the prototype chain (so
// `TrellisError` matches every package error), by `code` (`ECONNRESET`, `timeout`), or by `Name:code` when a code alone
// is ambiguous (`DiscoveryError:timeout` vs `ResilienceError:timeout`).

/** Whether an error matches one of the names. */
export function errorMatches(err: unknown, names: readonly string[]): boolean {
  if (names.length === 0 || typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  const codeText = typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
  const name = (err as { name?: unknown }).name;
  const nameText = typeof name === 'string' ? name : undefined;
  for (const wanted of names) {
    if (wanted === nameText || wanted === codeText) return true;
    if (codeText !== undefined && nameText !== undefined && wanted === `${nameText}:${codeText}`) return true;
    for (let proto: unknown = Object.getPrototypeOf(err); proto !== null && proto !== Object.prototype;) {
      const ctor = (proto as { constructor?: { name?: unknown } }).constructor;
      if (ctor?.name === wanted) return true;
      proto = Object.getPrototypeOf(proto);
    }
  }
  return false;
}

/** A one-line description of an error for events and logs: the class and code, plus the message of our own errors. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return typeof err;
  const code = (err as { code?: unknown }).code;
  const withCode = typeof code === 'string' ? `${err.name} (${code})` : err.name;
  // Package errors' messages are written to be safe to show (no tokens, no credentials); others may carry anything.
  return isTrellisError(err) ? `${withCode}: ${err.message}` : withCode;
}
