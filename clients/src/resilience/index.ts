// @trellis/clients/resilience: Resilience4j's circuit breaker, retry, time limiter and bulkhead for outgoing calls.
// Resilience4j's semantics and property names, combined as Retry(CircuitBreaker(TimeLimiter(Bulkhead(call)))),
// configured by name from the service's configuration, reported through actuator health and endpoints.
export { attachResilienceEndpoints, circuitBreakerDetails, circuitBreakersHealth } from './actuator.ts';
export type { ResilienceEndpointOptions } from './actuator.ts';
export { Bulkhead } from './bulkhead.ts';
export type { BulkheadOptions } from './bulkhead.ts';
export { CircuitBreaker } from './circuit-breaker.ts';
export type {
  CircuitBreakerEvent,
  CircuitBreakerEventType,
  CircuitBreakerMetrics,
  CircuitBreakerOptions,
  CircuitBreakerPredicates,
} from './circuit-breaker.ts';
export {
  BULKHEAD_DEFAULTS,
  bulkheadSettings,
  CIRCUIT_BREAKER_DEFAULTS,
  circuitBreakerSettings,
  parseDuration,
  resilienceConfigFromProperties,
  RETRY_DEFAULTS,
  retrySettings,
  TIME_LIMITER_DEFAULTS,
  timeLimiterSettings,
} from './config.ts';
export type {
  BulkheadProperties,
  BulkheadSettings,
  CircuitBreakerProperties,
  CircuitBreakerSettings,
  CircuitBreakerStateName,
  DurationValue,
  KindConfig,
  ResilienceConfig,
  RetryProperties,
  RetrySettings,
  SlidingWindowType,
  TimeLimiterProperties,
  TimeLimiterSettings,
} from './config.ts';
export { isCallNotPermitted, ResilienceError } from './errors.ts';
export type { ResilienceErrorCode } from './errors.ts';
export { withResilience } from './http.ts';
export type { ResilientHttpOptions } from './http.ts';
export { errorMatches } from './matchers.ts';
export { createResilience, ResilienceRegistry } from './registry.ts';
export type { CallContext, ExecuteOptions, InstancePredicates, ResilienceOptions } from './registry.ts';
export { Retry, retryInterval } from './retry.ts';
export type { RetryCall, RetryEvent, RetryEventType, RetryMetrics, RetryOptions, RetryPredicates } from './retry.ts';
export { TimeLimiter } from './time-limiter.ts';
export type { TimeLimiterOptions } from './time-limiter.ts';
