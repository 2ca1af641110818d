// The `discovery` component of /actuator/health, from the registration and the discovery client.
import type { Health, HealthIndicator } from '@trellis/kit';
import type { DiscoveryClient } from './client.ts';
import type { EurekaRegistration } from './registration.ts';
import { systemClock, type Clock } from '../http/timing.ts';

export interface DiscoveryHealthSources {
  readonly registration?: EurekaRegistration;
  readonly client?: DiscoveryClient;
  readonly clock?: Clock;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

/**
 * The `discovery` component of `/actuator/health`: UP while the instance is registered and the cache is current.
 * Otherwise UNKNOWN with a `reason`, never DOWN: like Spring's EurekaHealthIndicator (which stays UP and only says it
 * is "reporting failures to connect"), a registry outage must not make every service answer 503 and be pulled from
 * its load balancer or restarted; the cache keeps serving the last known instances. UNKNOWN ranks below UP in the
 * aggregate, so the service stays UP while the component shows the problem.
 *
 * @example
 * service.health.register('discovery', discoveryHealthIndicator({ client: discovery }));
 */
export function discoveryHealthIndicator(sources: DiscoveryHealthSources): HealthIndicator {
  const clock = sources.clock ?? systemClock;
  return (): Health => {
    const reasons: string[] = [];
    const details: Record<string, unknown> = {};
    if (sources.registration !== undefined) {
      const r = sources.registration.snapshot();
      details['registration'] = {
        state: r.state,
        instanceId: r.instanceId,
        app: r.app,
        status: r.status,
        registry: r.registry,
        lastRenewal: iso(r.lastRenewal),
        ...(r.failures > 0 ? { failures: r.failures } : {}),
        ...(r.lastError === undefined ? {} : { lastError: r.lastError }),
      };
      switch (r.state) {
        case 'registered':
          break;
        case 'idle':
        case 'registering':
          reasons.push('not registered with the registry yet');
          break;
        case 'unreachable':
          reasons.push(`registry unreachable, ${r.failures} failed attempts`);
          break;
        case 'rejected':
          reasons.push(`registry refused the registration (${r.lastError ?? 'no detail'})`);
          break;
        case 'stopped':
          reasons.push('registration cancelled');
          break;
      }
    }
    if (sources.client !== undefined) {
      const c = sources.client.snapshot();
      details['cache'] = {
        mode: c.mode,
        registry: c.registry,
        applications: c.applications,
        instances: c.instances,
        lastContact: iso(c.lastContact),
        ...(c.failures > 0 ? { failures: c.failures } : {}),
        ...(c.lastError === undefined ? {} : { lastError: c.lastError }),
      };
      if (!c.fresh) {
        reasons.push(
          c.lastContact === undefined
            ? 'discovery client has not reached the registry yet'
            : `discovery cache is stale: no contact with the registry for ${Math.round((clock.now() - c.lastContact) / 1000)} s`,
        );
      }
    }
    if (reasons.length === 0) return { status: 'UP', details };
    return { status: 'UNKNOWN', details: { reason: reasons.join('; '), ...details } };
  };
}
