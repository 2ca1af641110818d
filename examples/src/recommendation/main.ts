// The recommendation service as a landscape component.
import { defineComponent } from '@trellis/kit';
import { startCoreService } from '../shared/core-service.ts';
import { coreServiceSettings } from '../shared/settings.ts';
import { addRecommendationRoutes } from './app.ts';
import { applyRecommendationEvent, createRecommendationStore } from './store.ts';

/**
 * The recommendation service (`GET /recommendation?productId=`) as a landscape component; port 7002
 * (RECOMMENDATION_PORT).
 *
 * @example
 * const running = await recommendationComponent.start(loadSettings(recommendationComponent.settings, { env }), { logger, env });
 */
export const recommendationComponent = defineComponent({
  name: 'recommendation',
  summary: 'example core service: recommendations (port 7002)',
  settings: coreServiceSettings({ name: 'recommendation', port: 7002, portEnv: 'RECOMMENDATION_PORT' }),
  start: (settings, context) =>
    startCoreService({
      name: 'recommendation',
      settings,
      logger: context.logger,
      migrations: new URL('./migrations/', import.meta.url),
      createStore: createRecommendationStore,
      addRoutes: addRecommendationRoutes,
      applyEvent: applyRecommendationEvent,
    }),
});
