// The `config` component of /actuator/health.
import type { Health } from '@trellis/kit';
import type { ConfigClient } from './client.ts';

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/**
 * The `config` component of `/actuator/health`: UP while the last fetch succeeded, with the version and property
 * source names. After a failed refresh, or when nothing was loaded yet (`failFast: false`), UNKNOWN with the reason,
 * never DOWN: the service keeps serving the last good values, and a config server outage must not make every service
 * answer 503 and be pulled from its load balancer (the discovery component follows the same rule).
 *
 * @example
 * service.health.register('config', configHealthIndicator(config));
 */
export function configHealthIndicator(client: Pick<ConfigClient, 'status'>): () => Health {
  return (): Health => {
    const s = client.status();
    const details: Record<string, unknown> = {
      server: s.server,
      version: s.version,
      propertySources: s.propertySources,
      lastFetch: iso(s.lastFetch),
      watch: s.watch,
    };
    if (s.undecryptable.length > 0) details['undecryptable'] = s.undecryptable;
    if (!s.loaded) {
      return { status: 'UNKNOWN', details: { ...details, reason: 'no configuration loaded yet', error: s.lastError } };
    }
    if (s.lastError !== undefined) {
      return {
        status: 'UNKNOWN',
        details: {
          ...details,
          reason: 'last refresh failed; serving the last good configuration',
          error: s.lastError,
          failedAt: iso(s.lastErrorAt),
        },
      };
    }
    return { status: 'UP', details };
  };
}
