// The review service as a landscape component.
import { defineComponent } from '@trellis/kit';
import { startCoreService } from '../shared/core-service.ts';
import { coreServiceSettings } from '../shared/settings.ts';
import { addReviewRoutes } from './app.ts';
import { applyReviewEvent, createReviewStore } from './store.ts';

/**
 * The review service (`GET /review?productId=`) as a landscape component; port 7003
 * (REVIEW_PORT).
 *
 * @example
 * const running = await reviewComponent.start(loadSettings(reviewComponent.settings, { env }), { logger, env });
 */
export const reviewComponent = defineComponent({
  name: 'review',
  summary: 'example core service: reviews (port 7003; scaled instances take the next free ports)',
  settings: coreServiceSettings({ name: 'review', port: 7003, portEnv: 'REVIEW_PORT' }),
  start: (settings, context) =>
    startCoreService({
      name: 'review',
      settings,
      logger: context.logger,
      migrations: new URL('./migrations/', import.meta.url),
      createStore: createReviewStore,
      addRoutes: addReviewRoutes,
      applyEvent: applyReviewEvent,
    }),
});
