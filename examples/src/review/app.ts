// The review service's route: `GET /review?productId=`.
import type { Hono } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { parseProductId } from '../shared/errors.ts';
import type { ReviewStore } from './store.ts';

/** `GET /review?productId=`: the product's reviews, an empty list for an unknown product. */
export function addReviewRoutes(app: Hono<KitEnv>, deps: { store: ReviewStore; serviceAddress: () => string }): void {
  app.get('/review', (c) => {
    const productId = parseProductId(c.req.query('productId'));
    const address = deps.serviceAddress();
    return c.json(deps.store.forProduct(productId).map((r) => ({ ...r, serviceAddress: address })));
  });
}
