// Access control for the Eureka API: writes (register, heartbeat, cancel, status, metadata, replication) need the
// write credential, or a REGISTRY_CLIENTS credential for the application written to, when either is configured;
// reads need the read credential (or a write one) only when configured.
import type { KitEnv } from '@trellis/kit';
import type { MiddlewareHandler } from 'hono';
import { RegistryError } from '../errors.ts';
import { isReplication, routeServes } from '../http/negotiate.ts';
import { challengeFor, presents, REALM } from './credentials.ts';
import type { Credential } from './credentials.ts';
import { checkWritePath, rememberWriter, writerOf, writesGuarded } from './writers.ts';
import type { WriteAccess } from './writers.ts';

export interface AccessOptions extends WriteAccess {
  readonly read?: Credential | undefined;
  /** The mount points of the API, to find `{APP}` in a path (EUREKA_PREFIXES). */
  readonly prefixes?: readonly string[];
}

/** Middleware enforcing AccessOptions; a no-op when no credential is set. */
export function accessGuard(options: AccessOptions): MiddlewareHandler<KitEnv> {
  const { write, read } = options;
  const prefixes = options.prefixes ?? [];
  // Application clients send Basic (user info in their registry URL), so that is the challenge when only they exist.
  const writeChallenge = write === undefined ? `Basic realm="${REALM}", charset="UTF-8"` : challengeFor(write);
  return async (c, next) => {
    const authorization = c.req.header('authorization');
    const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (reading) {
      // A service reads with the credential it registers with (one registry URL), limited or not.
      const writes = writesGuarded(options) && writerOf(options, authorization) !== undefined;
      if (read !== undefined && !presents(read, authorization) && !writes) {
        throw new RegistryError('unauthorized', 'Reading the registry needs credentials', {
          challenge: challengeFor(read),
        });
      }
    } else if (routeServes(c)) {
      const writer = writerOf(options, authorization);
      if (writer === undefined) {
        if (read !== undefined && presents(read, authorization)) {
          throw new RegistryError('forbidden', 'These credentials may read the registry but not change it');
        }
        throw new RegistryError('unauthorized', 'Changing the registry needs credentials', {
          challenge: writeChallenge,
        });
      }
      if (writesGuarded(options)) checkWritePath(writer, c.req.path, prefixes, isReplication(c));
      rememberWriter(c.req.raw, writer);
    }
    await next();
  };
}
