// Credentials that guard a server's management or write API: one HTTP Basic user or one bearer token, given as
// `basic:<user>:<password>` or `bearer:<token>` (the registry's --write-auth, the gateway's --admin-auth). Checks take
// the same time whatever the guess.
import { createHash, timingSafeEqual } from 'node:crypto';

export type Credential =
  | { readonly scheme: 'basic'; readonly user: string; readonly password: string }
  | { readonly scheme: 'bearer'; readonly token: string };

/** What a settings error says a credential setting accepts. */
export const CREDENTIAL_FORMAT = 'basic:<user>:<password> or bearer:<token>';

/**
 * Reads `basic:<user>:<password>` (the password may contain colons) or `bearer:<token>`.
 * Throws a TypeError without the value in the message, so a typo never prints a secret.
 * @example parseCredential('basic:eureka:s3cret:x') // { scheme: 'basic', user: 'eureka', password: 's3cret:x' }
 */
export function parseCredential(raw: string): Credential {
  const text = raw.trim();
  const colon = text.indexOf(':');
  const scheme = colon === -1 ? '' : text.slice(0, colon).toLowerCase();
  const rest = colon === -1 ? '' : text.slice(colon + 1);
  if (scheme === 'bearer') {
    // RFC 6750 token68 characters, so the token can travel in an Authorization header unchanged.
    if (!/^[\w.~+/-]+=*$/.test(rest))
      throw new TypeError('bearer token missing or with characters a header cannot carry');
    return { scheme, token: rest };
  }
  if (scheme === 'basic') {
    const split = rest.indexOf(':');
    const user = split === -1 ? '' : rest.slice(0, split);
    const password = split === -1 ? '' : rest.slice(split + 1);
    if (user === '' || password === '') throw new TypeError('basic credentials need a user and a password');
    return { scheme, user, password };
  }
  throw new TypeError('credentials must start with basic: or bearer:');
}

/**
 * The WWW-Authenticate challenge of a 401 for this credential, in the given realm.
 * @example credentialChallenge(parseCredential('bearer:t'), 'trellis-gateway') // 'Bearer realm="trellis-gateway"'
 */
export function credentialChallenge(credential: Credential, realm: string): string {
  return credential.scheme === 'basic' ? `Basic realm="${realm}", charset="UTF-8"` : `Bearer realm="${realm}"`;
}

/**
 * Whether an Authorization header carries exactly this credential, compared in constant time.
 * @example presents(parseCredential('bearer:t'), 'Bearer t') // true
 */
export function presents(credential: Credential, authorization: string | undefined): boolean {
  if (authorization === undefined) return false;
  const space = authorization.indexOf(' ');
  if (space === -1) return false;
  const scheme = authorization.slice(0, space).toLowerCase();
  const value = authorization.slice(space + 1).trim();
  if (credential.scheme === 'bearer') return scheme === 'bearer' && sameSecret(value, credential.token);
  if (scheme !== 'basic') return false;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return sameSecret(decoded, `${credential.user}:${credential.password}`);
}

/** Hashing first gives both sides one length, so timingSafeEqual reveals neither content nor length. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
