// Access control for the Eureka API: writes (register, heartbeat, cancel, status, metadata, replication) need the
// write credential when one is configured; reads need the read credential (or the write one) only when configured.
import type { KitEnv } from '@trellis/clients';
import type { MiddlewareHandler } from 'hono';
import { RegistryError } from '../errors.ts';
import { challengeFor, presents } from './credentials.ts';
import type { Credential } from './credentials.ts';

export interface AccessOptions {
  readonly write?: Credential | undefined;
  readonly read?: Credential | undefined;
}

/** Middleware enforcing AccessOptions; a no-op when neither credential is set. */
export function accessGuard(options: AccessOptions): MiddlewareHandler<KitEnv> {
  const { write, read } = options;
  return async (c, next) => {
    const authorization = c.req.header('authorization');
    const reading = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (reading) {
      if (
        read !== undefined &&
        !presents(read, authorization) &&
        !(write !== undefined && presents(write, authorization))
      ) {
        throw new RegistryError('unauthorized', 'Reading the registry needs credentials', {
          challenge: challengeFor(read),
        });
      }
    } else if (write !== undefined && !presents(write, authorization)) {
      if (read !== undefined && presents(read, authorization)) {
        throw new RegistryError('forbidden', 'These credentials may read the registry but not change it');
      }
      throw new RegistryError('unauthorized', 'Changing the registry needs credentials', {
        challenge: challengeFor(write),
      });
    }
    await next();
  };
}
