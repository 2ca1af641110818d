// The product-composite service as a component: discovery, resilience, events, token checks, routes.
import {
  attachResilienceEndpoints,
  createResilience,
  resilienceConfigFromProperties,
} from '@trellis/clients/resilience';
import { createDiscoveryClient, createLoadBalancedHttp } from '@trellis/clients/discovery';
import { defineComponent, type Running, type StartContext } from '@trellis/kit';
import { requireAuth } from '@trellis/clients/security';
import type { Producer } from '@trellis/clients/events';
import { startExample } from '../shared/bootstrap.ts';
import { openEventBinder } from '../shared/binder.ts';
import { DESTINATIONS, type CoreService, type Event } from '../shared/events.ts';
import { addCompositeRoutes, renderCompositeError } from './app.ts';
import { createIntegration } from './integration.ts';
import { compositeSettings, PUBLISHED, type CompositeSettings } from './settings.ts';

function start(settings: CompositeSettings, context: StartContext): Promise<Running> {
  return startExample(
    'product-composite',
    settings,
    context.logger,
    async (ctx) => {
      const { service, config, log } = ctx;
      const discovery = createDiscoveryClient({ registryUrl: ctx.registryUrl, logger: log });
      service.onShutdown('discovery client', () => discovery.stop());
      await discovery.start();
      const http = createLoadBalancedHttp({ discovery, logger: log, timeoutMs: 10_000 });
      service.onShutdown('load-balanced http', () => http.close());
      const flat = Object.fromEntries(config.keys().map((k) => [k, config.get(k)]));
      const resilience = createResilience({ config: resilienceConfigFromProperties(flat), logger: log });
      attachResilienceEndpoints(service, resilience);

      const binder = await openEventBinder(ctx);
      service.onShutdown('events', () => binder.close());
      const producers = {} as Record<CoreService, Producer<Event<unknown>>>;
      for (const name of PUBLISHED) {
        const { destination, group } = DESTINATIONS[name];
        producers[name] = await binder.producer<Event<unknown>>({
          destination,
          partitionKey: (event) => event.key,
          partitionCount: settings.eventPartitions[name] ?? 1,
          // Declared by the producer too, so events sent before a consumer first starts wait in its queue.
          requiredGroups: [group],
        });
      }

      addCompositeRoutes(service.app, {
        integration: createIntegration({ http, resilience, log, serviceAddress: ctx.serviceAddress }),
        auth: requireAuth({ issuer: settings.issuer, audience: settings.audience, logger: log }),
        producers,
        serviceAddress: ctx.serviceAddress,
      });
      // Its API is the one `trellis up` suggests trying a token on.
      return { discovery, offers: (url) => ({ sampleApi: url }) };
    },
    { renderError: renderCompositeError },
  );
}

/**
 * The product-composite service as a landscape component; port 7000 (PRODUCT_COMPOSITE_PORT).
 *
 * @example
 * const running = await productCompositeComponent.start(loadSettings(productCompositeComponent.settings, { env }), { logger, env });
 */
export const productCompositeComponent = defineComponent({
  name: 'product-composite',
  summary: 'example composite service: aggregates product, recommendation and review behind OAuth scopes (port 7000)',
  settings: compositeSettings(),
  start,
});
