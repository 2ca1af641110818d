// The binder's `binders` health component, in the readiness group only.
import type { HealthRegistry } from '@trellis/kit';
import type { EventBinder } from './types.ts';

/**
 * Adds the binder as the `binders` component (Spring's name) in the readiness group only: while the broker is away
 * the instance stops taking traffic, but its liveness stays UP, so an orchestrator does not restart every pod
 * because of a broker outage (the binder reconnects on its own).
 *
 * @example
 * registerBinderHealth(service.health, binder);
 * // GET /actuator/health/readiness → 503 while RabbitMQ is down; /actuator/health/liveness stays 200
 */
export function registerBinderHealth(health: HealthRegistry, binder: EventBinder, name = 'binders'): void {
  health.register(name, binder.health, { groups: ['readiness'] });
}
