// The credential check every route runs first: 401 with a Basic challenge, 403 for what the client may not read, 429
// for a source locked out after wrong credentials.
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { presentedName, sourceAddress, type CredentialLimiter, type TrustedProxies } from '@trellis/kit';
import { ConfigServerError } from '../errors.ts';
import { isUnrestricted, mayRead, type AccessControl, type ConfigClient } from './clients.ts';

/** What a route needs: any valid credential, one allowed these applications, or one allowed everything. */
export type Requirement = { readonly applications: readonly string[] } | 'authenticated' | 'unrestricted';

export type Guard = (c: Context, requirement: Requirement) => ConfigClient | undefined;

const CHALLENGE = 'Basic realm="config-server", charset="UTF-8"';

/**
 * The address a request came from, as the limiter keys it: the socket's peer, or the client a trusted proxy (the
 * gateway) names in X-Forwarded-For (the limiter reduces it: loopback as one, IPv6 per /64); `unknown` without a
 * socket (app.request).
 */
export function sourceOf(c: Context, proxies: TrustedProxies | undefined): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming === undefined ? 'unknown' : sourceAddress(incoming, proxies);
}

/**
 * Checks a request's credential against `access` under the failed-credential limiter: undefined when none is
 * presented or it is wrong (counted then), 429 with Retry-After while the source is locked out, before the credential
 * is looked at, so the right one is refused too. `list` keeps the counts of client and admin names apart.
 */
export function checkCredential(
  c: Context,
  access: AccessControl,
  limiter: CredentialLimiter,
  list: 'client' | 'admin',
  proxies?: TrustedProxies,
): ConfigClient | undefined {
  const credential = { authorization: c.req.header('authorization'), configToken: c.req.header('x-config-token') };
  const name = presentedName(credential.authorization, credential.configToken);
  // No credential is no guess: clients commonly ask once without one and answer the challenge.
  if (name === undefined) return undefined;
  const source = sourceOf(c, proxies);
  const key = `${list}:${name}`;
  const wait = limiter.retryAfter(source, key);
  if (wait !== undefined) {
    throw new ConfigServerError(
      'too_many_failures',
      `too many failed credentials from this address; try again in ${wait} s`,
      { retryAfterSecs: wait },
    );
  }
  const client = access.authenticate(credential);
  if (client === undefined) limiter.failed(source, key);
  else limiter.succeeded(source, key);
  return client;
}

/**
 * Checks a request's credential; with no access control configured every request passes (and gets undefined).
 * 401 carries a Basic challenge so curl and browsers know to send credentials.
 */
export function createGuard(
  access: AccessControl | undefined,
  limiter: CredentialLimiter,
  proxies?: TrustedProxies,
): Guard {
  return (c, requirement) => {
    if (access === undefined) return undefined;
    const client = checkCredential(c, access, limiter, 'client', proxies);
    if (client === undefined) {
      c.header('www-authenticate', CHALLENGE);
      throw new ConfigServerError('unauthorized', 'Full authentication is required to access this resource');
    }
    if (requirement === 'authenticated') return client;
    if (requirement === 'unrestricted') {
      if (!isUnrestricted(client)) {
        throw new ConfigServerError('forbidden', `client ${client.id} may not use this endpoint (needs access to *)`);
      }
      return client;
    }
    if (!mayRead(client, requirement.applications)) {
      throw new ConfigServerError(
        'forbidden',
        `client ${client.id} may not read ${requirement.applications.filter((a) => !mayRead(client, [a])).join(',')}`,
      );
    }
    return client;
  };
}
