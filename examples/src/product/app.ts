// The product service's route: `GET /product/{productId}`, with the resilience demo's delay and faults.
import type { Hono } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { ExampleError, parseProductId } from '../shared/errors.ts';
import { sleep } from '../shared/bootstrap.ts';
import type { ProductStore } from './store.ts';

export interface ProductRoutesDeps {
  readonly store: ProductStore;
  readonly serviceAddress: () => string;
  /** Aborted on shutdown: a demo delay must not hold the drain. */
  readonly stopping: AbortSignal;
  /** For `faultPercent`; tests pass a fixed one. Default Math.random. */
  readonly random?: () => number;
}

/** Upper bounds of the resilience demo parameters, so a typo cannot park a request for an hour. */
const MAX_DELAY_SECONDS = 60;

function boundedInt(raw: string | undefined, name: string, max: number): number {
  if (raw === undefined || raw === '') return 0;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) > max) {
    throw new ExampleError('bad_request', `${name} must be a whole number from 0 to ${max}`);
  }
  return Number(raw);
}

/**
 * `GET /product/{productId}`; `?delay=seconds` answers late and `?faultPercent=n` fails n % of calls with a 500, to
 * show the composite's time limiter, retry and circuit breaker at work.
 */
export function addProductRoutes(app: Hono<KitEnv>, deps: ProductRoutesDeps): void {
  const random = deps.random ?? Math.random;
  app.get('/product/:productId', async (c) => {
    const productId = parseProductId(c.req.param('productId'));
    const delay = boundedInt(c.req.query('delay'), 'delay', MAX_DELAY_SECONDS);
    const faultPercent = boundedInt(c.req.query('faultPercent'), 'faultPercent', 100);
    if (delay > 0) await sleep(delay * 1000, deps.stopping);
    if (faultPercent > 0 && random() * 100 < faultPercent) {
      c.var.log.info({ faultPercent }, 'failing on purpose (faultPercent)');
      throw new Error('simulated fault (faultPercent)');
    }
    const product = deps.store.find(productId);
    if (product === undefined) throw new ExampleError('not_found', `No product found for productId: ${productId}`);
    return c.json({ ...product, serviceAddress: deps.serviceAddress() });
  });
}
