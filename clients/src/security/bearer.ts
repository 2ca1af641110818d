// RFC 6750 on the resource-server side, shared by the hono guard and the gateway's per-route token check: reading
// the bearer token out of an Authorization header, and quoting values for a WWW-Authenticate challenge.
import { SecurityError } from './errors.ts';

/** RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The token of a `Bearer` Authorization header, not yet checked for syntax (a token verified before needs no
 * check). No header, or another scheme (Basic…), is no bearer credentials at all: `missing_token` (§3.1).
 */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') {
    throw new SecurityError('missing_token', 'a bearer token is required');
  }
  // The spelling nearly every client sends, without the lower-cased copy of the scheme the general case makes.
  if (header.startsWith('Bearer ')) return header.slice(7).trim();
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    throw new SecurityError('missing_token', 'a bearer token is required');
  }
  return space === -1 ? '' : header.slice(space + 1).trim();
}

/** The token, if it has RFC 6750 b64token syntax; `invalid_request` otherwise. */
export function wellFormedToken(token: string): string {
  if (!B64TOKEN.test(token)) {
    throw new SecurityError('invalid_request', 'the Authorization header must be Bearer followed by one token');
  }
  return token;
}

/** A quoted-string for an auth-param; our descriptions are plain ASCII, but scopes come from a route's author. */
export function quotedParam(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '?')}"`;
}
