// The recommendation service's route: `GET /recommendation?productId=`.
import type { Hono } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { parseProductId } from '../shared/errors.ts';
import type { RecommendationStore } from './store.ts';

/** `GET /recommendation?productId=`: the product's recommendations, an empty list for an unknown product. */
export function addRecommendationRoutes(
  app: Hono<KitEnv>,
  deps: { store: RecommendationStore; serviceAddress: () => string },
): void {
  app.get('/recommendation', (c) => {
    const productId = parseProductId(c.req.query('productId'));
    const address = deps.serviceAddress();
    return c.json(deps.store.forProduct(productId).map((r) => ({ ...r, serviceAddress: address })));
  });
}
