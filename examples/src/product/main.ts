// The product service as a landscape component.
import { defineComponent } from '@trellis/kit';
import { startCoreService } from '../shared/core-service.ts';
import { coreServiceSettings } from '../shared/settings.ts';
import { addProductRoutes } from './app.ts';
import { applyProductEvent, createProductStore } from './store.ts';

/**
 * The product service (`GET /product/{productId}`) as a landscape component; port 7001 (PRODUCT_PORT).
 *
 * @example
 * const running = await productComponent.start(loadSettings(productComponent.settings, { env }), { logger, env });
 */
export const productComponent = defineComponent({
  name: 'product',
  summary: 'example core service: products (port 7001)',
  settings: coreServiceSettings({ name: 'product', port: 7001, portEnv: 'PRODUCT_PORT' }),
  start: (settings, context) =>
    startCoreService({
      name: 'product',
      settings,
      logger: context.logger,
      migrations: new URL('./migrations/', import.meta.url),
      createStore: createProductStore,
      addRoutes: addProductRoutes,
      applyEvent: applyProductEvent,
    }),
});
