// registerService: a listening kit service registered with the registry, cancelled when shutdown begins.
import type { Logger, Service } from '@trellis/kit';
import type { DiscoveryClient } from './client.ts';
import { DiscoveryError } from './errors.ts';
import { discoveryHealthIndicator } from './health.ts';
import { createEurekaRegistration, type EurekaRegistration, type EurekaRegistrationOptions } from './registration.ts';

export interface RegisterServiceOptions extends Omit<
  EurekaRegistrationOptions,
  'app' | 'port' | 'securePort' | 'logger'
> {
  /** Default: the service's name. */
  readonly app?: string;
  /** Default: the service's logger. */
  readonly logger?: Logger;
  /** A discovery client the service uses, reported in the same `discovery` health component. */
  readonly discovery?: DiscoveryClient;
  /** Mark the instance UP at once (the service is listening). Default true; pass false and call `markUp()` after a warm-up. */
  readonly markUp?: boolean;
}

/**
 * Registers a listening kit service with the registry: its real port (HTTP, and HTTPS if it listens on one), status
 * UP, heartbeats; cancels as soon as shutdown begins so callers stop choosing it while it drains; adds the
 * `discovery` health component. Call after `service.listen()`.
 *
 * @example
 * await service.listen({ port: 0 });
 * const registration = registerService(service, { registryUrl: 'http://localhost:8761/eureka/' });
 */
export function registerService(service: Service, options: RegisterServiceOptions): EurekaRegistration {
  const http = service.endpoints.find((e) => e.protocol === 'http');
  const https = service.endpoints.find((e) => e.protocol === 'https');
  if (http === undefined && https === undefined) {
    throw new DiscoveryError(
      'invalid_options',
      `${service.name} is not listening: call registerService after listen()`,
    );
  }
  const { discovery, markUp, ...rest } = options;
  const registration = createEurekaRegistration({
    ...rest,
    app: options.app ?? service.name,
    logger: options.logger ?? service.log,
    ...(http === undefined ? {} : { port: http.port }),
    ...(https === undefined ? {} : { securePort: https.port }),
  });
  service.health.register(
    'discovery',
    discoveryHealthIndicator({
      registration,
      ...(discovery === undefined ? {} : { client: discovery }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    }),
  );
  // Cancel when shutdown begins rather than after the drain: watching callers drop this instance within
  // milliseconds instead of sending it requests it would refuse.
  const cancel = (): void => void registration.stop();
  if (service.stopping.aborted) cancel();
  else service.stopping.addEventListener('abort', cancel, { once: true });
  service.onShutdown('discovery', () => registration.stop());
  registration.start();
  if (markUp !== false) registration.markUp();
  return registration;
}
