// The composite's routes: `/product-composite/{productId}` read, create and delete, behind OAuth scopes.
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { DiscoveryError } from '@trellis/clients/discovery';
import { requireScopes, type AuthEnv } from '@trellis/clients/security';
import { ResilienceError } from '@trellis/clients/resilience';
import type { KitEnv } from '@trellis/kit';
import type { Producer } from '@trellis/clients/events';
import { createEvent, type CoreService, type Event } from '../shared/events.ts';
import { ExampleError, parseProductId } from '../shared/errors.ts';
import { intField, textField } from '../shared/events.ts';
import { UpstreamError, type Integration } from './integration.ts';

export interface CompositeRoutesDeps {
  readonly integration: Integration;
  readonly auth: MiddlewareHandler<AuthEnv>;
  readonly producers: Readonly<Record<CoreService, Producer<Event<unknown>>>>;
  readonly serviceAddress: () => string;
}

/**
 * Errors of the calls to core services, rendered for the caller: a timeout is 504, an absent or failing core service
 * 503/502, each with a message and never the upstream's details.
 */
export function renderCompositeError(err: unknown, c: Context<KitEnv>): Response | undefined {
  if (err instanceof ResilienceError && err.code === 'timeout') {
    return c.json({ error: 'timeout', message: 'product did not answer in time' }, 504);
  }
  if (err instanceof ResilienceError && (err.code === 'call_not_permitted' || err.code === 'bulkhead_full')) {
    return c.json({ error: 'unavailable', message: 'product is not taking calls right now' }, 503);
  }
  if (err instanceof DiscoveryError && err.code === 'no_instances') {
    return c.json({ error: 'unavailable', message: err.message }, 503);
  }
  if (err instanceof DiscoveryError || err instanceof UpstreamError) {
    c.var.log.warn({ err }, 'product call failed');
    return c.json({ error: 'bad_gateway', message: 'product failed to answer' }, 502);
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function listOf(body: Record<string, unknown>, name: string): Record<string, unknown>[] {
  const v = body[name] ?? [];
  if (!Array.isArray(v) || v.length > 100 || !v.every(isRecord)) {
    throw new ExampleError('invalid_input', `${name} must be a list of at most 100 objects`);
  }
  return v;
}

/** The events one POST publishes, checked completely before the first is sent. */
function eventsOfCreate(body: unknown): { productId: number; events: [CoreService, Event<unknown>][] } {
  if (!isRecord(body)) throw new ExampleError('bad_request', 'the body must be a JSON object');
  const productId = intField(body, 'productId', 1);
  const product = { productId, name: textField(body, 'name', 200), weight: intField(body, 'weight') };
  const recommendations = listOf(body, 'recommendations').map((r) => ({
    productId,
    recommendationId: intField(r, 'recommendationId', 1),
    author: textField(r, 'author', 100),
    rate: intField(r, 'rate'),
    content: textField(r, 'content'),
  }));
  const reviews = listOf(body, 'reviews').map((r) => ({
    productId,
    reviewId: intField(r, 'reviewId', 1),
    author: textField(r, 'author', 100),
    subject: textField(r, 'subject', 200),
    content: textField(r, 'content'),
  }));
  return {
    productId,
    events: [
      ['product', createEvent('CREATE', productId, product)],
      ...recommendations.map((r): [CoreService, Event<unknown>] => [
        'recommendation',
        createEvent('CREATE', productId, r),
      ]),
      ...reviews.map((r): [CoreService, Event<unknown>] => ['review', createEvent('CREATE', productId, r)]),
    ],
  };
}

const needsWrite = requireScopes('product:write');

/**
 * The demo's `delay` and `faultPercent` slow down or break the product service for every caller (they open its
 * circuit breaker), so only a caller who may change the catalogue may ask for them: a read token must not be enough
 * to degrade the API for everyone.
 */
const demoNeedsWrite: MiddlewareHandler<AuthEnv> = async (c, next) => {
  if (c.req.query('delay') === undefined && c.req.query('faultPercent') === undefined) return next();
  return needsWrite(c, next);
};

/**
 * `GET /product-composite/{productId}` (scope product:read; `delay` and `faultPercent` need product:write) aggregates the core services; `POST /product-composite`
 * and `DELETE /product-composite/{productId}` (product:write) publish events the core services apply.
 */
export function addCompositeRoutes(app: Hono<KitEnv>, deps: CompositeRoutesDeps): void {
  const secured = app as unknown as Hono<AuthEnv>;
  secured.get('/product-composite/:productId', deps.auth, requireScopes('product:read'), demoNeedsWrite, async (c) => {
    const productId = parseProductId(c.req.param('productId'));
    const delay = c.req.query('delay');
    const faultPercent = c.req.query('faultPercent');
    const [product, recommendations, reviews] = await Promise.all([
      deps.integration.product(productId, {
        ...(delay === undefined ? {} : { delay }),
        ...(faultPercent === undefined ? {} : { faultPercent }),
      }),
      deps.integration.recommendations(productId),
      deps.integration.reviews(productId),
    ]);
    return c.json({
      productId: product.value.productId,
      name: product.value.name,
      weight: product.value.weight,
      recommendations: recommendations.value.map(({ recommendationId, author, rate, content }) => ({
        recommendationId,
        author,
        rate,
        content,
      })),
      reviews: reviews.value.map(({ reviewId, author, subject, content }) => ({ reviewId, author, subject, content })),
      serviceAddresses: {
        cmp: deps.serviceAddress(),
        pro: product.address,
        rev: reviews.address,
        rec: recommendations.address,
      },
    });
  });

  secured.post('/product-composite', deps.auth, requireScopes('product:write'), async (c) => {
    const body: unknown = await c.req.json().catch(() => {
      throw new ExampleError('bad_request', 'the body must be JSON');
    });
    const { productId, events } = eventsOfCreate(body);
    for (const [service, event] of events) await deps.producers[service].send(event);
    c.var.log.info({ productId, events: events.length }, 'product creation published');
    return c.json({ productId, published: events.length }, 202);
  });

  secured.delete('/product-composite/:productId', deps.auth, requireScopes('product:write'), async (c) => {
    const productId = parseProductId(c.req.param('productId'));
    for (const service of ['recommendation', 'review', 'product'] as const) {
      await deps.producers[service].send(createEvent('DELETE', productId, null));
    }
    c.var.log.info({ productId }, 'product deletion published');
    return c.json({ productId, published: 3 }, 202);
  });
}
