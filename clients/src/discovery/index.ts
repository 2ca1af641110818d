// @trellis/clients/discovery: registration, the registry cache and load-balanced HTTP, as Spring's Eureka client.
// Wire-compatible with Spring Cloud Netflix's Eureka client: lease renewal, the cache kept by the watch stream or
// Eureka deltas, and HTTP load-balanced by application name.
export { reconcileHashCode, InstanceCache } from './cache.ts';
export type { InstanceChange } from './cache.ts';
export { createDiscoveryClient } from './client.ts';
export type {
  ChangeListener,
  DiscoveryClient,
  DiscoveryClientOptions,
  DiscoveryMode,
  DiscoverySnapshot,
  InstanceSource,
} from './client.ts';
export { DiscoveryError } from './errors.ts';
export type { DiscoveryErrorCode } from './errors.ts';
export { discoveryHealthIndicator } from './health.ts';
export type { DiscoveryHealthSources } from './health.ts';
export { createLoadBalancedHttp } from './http.ts';
export type {
  LoadBalancedHttp,
  LoadBalancedHttpOptions,
  LoadBalancedRequestInit,
  LoadBalancedResponse,
} from './http.ts';
export { asciiUpperCase, isApplicationHost } from './names.ts';
export { RoundRobin } from './load-balancer.ts';
export type { RoundRobinOptions } from './load-balancer.ts';
export { registerService } from './register-service.ts';
export type { RegisterServiceOptions } from './register-service.ts';
export { createEurekaRegistration, describeInstance, registrationBody } from './registration.ts';
export type {
  EurekaRegistration,
  EurekaRegistrationOptions,
  InstanceDescription,
  RegistrationSnapshot,
  RegistrationState,
} from './registration.ts';
export type { RegistryCredentials } from './registry-http.ts';
// The types of the clock and retry options above; the transport itself is @trellis/clients/http.
export type { BackoffOptions, Clock } from '../http/timing.ts';
export { readApplications, readInstance } from './wire.ts';
export type {
  ActionType,
  ApplicationsDocument,
  InstanceStatus,
  LeaseInfo,
  PortInfo,
  ServiceInstance,
  WatchChange,
} from './wire.ts';
