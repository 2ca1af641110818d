// Spring Boot Actuator's view of Resilience4j: the `circuitBreakers` health component and the
// `/actuator/circuitbreakers`, `/actuator/circuitbreakerevents`, `/actuator/retries` and `/actuator/retryevents`
// endpoints, with Resilience4j's JSON field names so dashboards made for Spring services read them unchanged.
import type { Context } from 'hono';
import { aggregateStatus, type Health, type HealthIndicator, type KitEnv, type Service } from '@trellis/kit';
import type { CircuitBreaker, CircuitBreakerEvent } from './circuit-breaker.ts';
import type { ResilienceRegistry } from './registry.ts';

/** Within the component an open breaker shows; the service's own order ignores CIRCUIT_* so the instance stays UP. */
const COMPONENT_ORDER = ['DOWN', 'OUT_OF_SERVICE', 'CIRCUIT_OPEN', 'CIRCUIT_HALF_OPEN', 'UP', 'UNKNOWN'];

/** Java's Float.toString for the rates Resilience4j prints: 50 → "50.0%", -1 → "-1.0%". */
function percent(value: number): string {
  return `${Number.isInteger(value) ? value.toFixed(1) : String(Number(value.toPrecision(7)))}%`;
}

/**
 * The details Resilience4j's health indicator and `/actuator/circuitbreakers` show for one breaker.
 *
 * @example
 * circuitBreakerDetails(resilience.circuitBreaker('product')); // { failureRate: '-1.0%', state: 'CLOSED', … }
 */
export function circuitBreakerDetails(breaker: CircuitBreaker): Record<string, string | number> {
  const m = breaker.metrics();
  return {
    failureRate: percent(m.failureRate),
    failureRateThreshold: percent(breaker.settings.failureRateThreshold),
    slowCallRate: percent(m.slowCallRate),
    slowCallRateThreshold: percent(breaker.settings.slowCallRateThreshold),
    bufferedCalls: m.bufferedCalls,
    failedCalls: m.failedCalls,
    slowCalls: m.slowCalls,
    slowFailedCalls: m.slowFailedCalls,
    notPermittedCalls: m.notPermittedCalls,
    state: breaker.state,
  };
}

/** CLOSED → UP, OPEN → CIRCUIT_OPEN (DOWN with allowHealthIndicatorToFail), HALF_OPEN → CIRCUIT_HALF_OPEN. */
function statusOf(breaker: CircuitBreaker): string {
  switch (breaker.state) {
    case 'CLOSED':
      return 'UP';
    case 'OPEN':
      return breaker.settings.allowHealthIndicatorToFail ? 'DOWN' : 'CIRCUIT_OPEN';
    case 'HALF_OPEN':
      return 'CIRCUIT_HALF_OPEN';
    // As Resilience4j: a breaker set aside by hand says nothing about the dependency's health.
    case 'DISABLED':
    case 'FORCED_OPEN':
    case 'METRICS_ONLY':
      return 'UNKNOWN';
  }
}

/**
 * The `circuitBreakers` health indicator: one entry per breaker with registerHealthIndicator, aggregated so the
 * component shows CIRCUIT_OPEN while any breaker is open.
 *
 * @example
 * service.health.register('circuitBreakers', circuitBreakersHealth(resilience));
 */
export function circuitBreakersHealth(registry: ResilienceRegistry): HealthIndicator {
  return () => {
    const details: Record<string, Health> = {};
    for (const b of registry.circuitBreakers()) {
      if (!b.settings.registerHealthIndicator) continue;
      details[b.name] = { status: statusOf(b), details: circuitBreakerDetails(b) };
    }
    const statuses = Object.values(details).map((h) => h.status);
    return { status: statuses.length === 0 ? 'UP' : aggregateStatus(statuses, COMPONENT_ORDER), details };
  };
}

function sortByTime<E extends { creationTime: string }>(events: E[]): E[] {
  // ISO-8601 in UTC sorts as text; the sort is stable, so events of the same millisecond keep their order.
  return events.sort((a, b) => (a.creationTime < b.creationTime ? -1 : a.creationTime > b.creationTime ? 1 : 0));
}

export interface ResilienceEndpointOptions {
  /** Register the `circuitBreakers` health component. Default true. */
  readonly health?: boolean;
}

/**
 * Mounts the resilience actuator endpoints on a kit service and adds the `circuitBreakers` health component.
 *
 * @example
 * const resilience = createResilience({ config: config.resilience4j, logger: service.log });
 * attachResilienceEndpoints(service, resilience);
 * // GET /actuator/circuitbreakers, /actuator/circuitbreakerevents[/{name}[/{eventType}]], /actuator/retries, /actuator/retryevents
 */
export function attachResilienceEndpoints(
  service: Service,
  registry: ResilienceRegistry,
  options: ResilienceEndpointOptions = {},
): void {
  if (options.health !== false) service.health.register('circuitBreakers', circuitBreakersHealth(registry));
  service.onShutdown('resilience', () => registry.close());
  const app = service.app;
  const notFound = (c: Context<KitEnv>, name: string): Response =>
    c.json({ error: 'not_found', message: `no circuit breaker named ${name}` }, 404);
  const find = (name: string): CircuitBreaker | undefined => registry.circuitBreakers().find((b) => b.name === name);

  app.get('/actuator/circuitbreakers', (c) => {
    const circuitBreakers: Record<string, unknown> = {};
    for (const b of registry.circuitBreakers()) circuitBreakers[b.name] = circuitBreakerDetails(b);
    return c.json({ circuitBreakers });
  });
  app.get('/actuator/circuitbreakers/:name', (c) => {
    const b = find(c.req.param('name'));
    return b === undefined ? notFound(c, c.req.param('name')) : c.json(circuitBreakerDetails(b));
  });
  app.get('/actuator/circuitbreakerevents', (c) =>
    c.json({ circuitBreakerEvents: sortByTime(registry.circuitBreakers().flatMap((b) => b.events())) }),
  );
  app.get('/actuator/circuitbreakerevents/:name', (c) => {
    const b = find(c.req.param('name'));
    return b === undefined ? notFound(c, c.req.param('name')) : c.json({ circuitBreakerEvents: b.events() });
  });
  app.get('/actuator/circuitbreakerevents/:name/:eventType', (c) => {
    const b = find(c.req.param('name'));
    if (b === undefined) return notFound(c, c.req.param('name'));
    const type = c.req.param('eventType').toUpperCase();
    const circuitBreakerEvents: CircuitBreakerEvent[] = b.events().filter((e) => e.type === type);
    return c.json({ circuitBreakerEvents });
  });
  app.get('/actuator/retries', (c) => c.json({ retries: registry.retries().map((r) => r.name) }));
  app.get('/actuator/retryevents', (c) =>
    c.json({ retryEvents: sortByTime(registry.retries().flatMap((r) => r.events())) }),
  );
}
