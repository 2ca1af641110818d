// The credential check every route runs first: 401 with a Basic challenge, 403 for what the client may not read.
import type { Context } from 'hono';
import { ConfigServerError } from '../errors.ts';
import { isUnrestricted, mayRead, type AccessControl, type ConfigClient } from './clients.ts';

/** What a route needs: any valid credential, one allowed these applications, or one allowed everything. */
export type Requirement = { readonly applications: readonly string[] } | 'authenticated' | 'unrestricted';

export type Guard = (c: Context, requirement: Requirement) => ConfigClient | undefined;

const CHALLENGE = 'Basic realm="config-server", charset="UTF-8"';

/**
 * Checks a request's credential; with no access control configured every request passes (and gets undefined).
 * 401 carries a Basic challenge so curl and browsers know to send credentials.
 */
export function createGuard(access: AccessControl | undefined): Guard {
  return (c, requirement) => {
    if (access === undefined) return undefined;
    const client = access.authenticate({
      authorization: c.req.header('authorization'),
      configToken: c.req.header('x-config-token'),
    });
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
