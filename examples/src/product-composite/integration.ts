// Calls to the core services through the load-balanced client.
// The product call goes through the `product` resilience instances (retry, circuit breaker, time limiter);
// recommendations and reviews degrade to an empty list, as in the Spring sample, so one slow or absent core service
// does not fail the whole page.
import { isCallNotPermitted, type ResilienceRegistry } from '@trellis/clients/resilience';
import { TrellisError, type Logger } from '@trellis/kit';
import type { LoadBalancedHttp } from '@trellis/clients/discovery';
import { ExampleError } from '../shared/errors.ts';

export interface ProductPart {
  readonly productId: number;
  readonly name: string;
  readonly weight: number;
}

export interface RecommendationPart {
  readonly recommendationId: number;
  readonly author: string;
  readonly rate: number;
  readonly content: string;
}

export interface ReviewPart {
  readonly reviewId: number;
  readonly author: string;
  readonly subject: string;
  readonly content: string;
}

export interface Served<T> {
  readonly value: T;
  /** `host:port` of the instance that answered; empty when none did (fallback, degraded). */
  readonly address: string;
}

/** A 5xx from product: thrown inside the resilience call so the retry and the breaker see a failure. */
export class UpstreamError extends TrellisError<'upstream_failed'> {
  get status(): number {
    return 502;
  }
}

export interface Integration {
  product(productId: number, demo: { delay?: string; faultPercent?: string }): Promise<Served<ProductPart>>;
  recommendations(productId: number): Promise<Served<RecommendationPart[]>>;
  reviews(productId: number): Promise<Served<ReviewPart[]>>;
}

interface ErrorBody {
  message?: unknown;
}

function messageOf(body: unknown, fallback: string): string {
  const m = (body as ErrorBody | null)?.message;
  return typeof m === 'string' ? m : fallback;
}

export function createIntegration(deps: {
  http: LoadBalancedHttp;
  resilience: ResilienceRegistry;
  log: Logger;
  /** This service's own address, reported for a fallback product (it was made here). */
  serviceAddress: () => string;
}): Integration {
  async function list<T>(app: string, productId: number): Promise<Served<T[]>> {
    try {
      const res = await deps.http.request(`http://${app}/${app}?productId=${productId}`);
      if (res.status !== 200) {
        await res.body.dump();
        deps.log.warn({ app, status: res.status }, 'core service answered an error; returning no items');
        return { value: [], address: res.serviceAddress };
      }
      return { value: (await res.body.json()) as T[], address: res.serviceAddress };
    } catch (err) {
      deps.log.warn({ app, err }, 'core service unreachable; returning no items');
      return { value: [], address: '' };
    }
  }

  return {
    async product(productId, demo) {
      const query = new URLSearchParams();
      if (demo.delay !== undefined) query.set('delay', demo.delay);
      if (demo.faultPercent !== undefined) query.set('faultPercent', demo.faultPercent);
      const search = query.size === 0 ? '' : `?${query.toString()}`;
      return deps.resilience.execute(
        'product',
        async ({ signal }) => {
          const res = await deps.http.request(`http://product/product/${productId}${search}`, { signal });
          const body: unknown = await res.body.json().catch(() => null);
          if (res.status >= 500) throw new UpstreamError('upstream_failed', `product answered ${res.status}`);
          if (res.status === 404)
            throw new ExampleError('not_found', messageOf(body, `No product found for productId: ${productId}`));
          if (res.status === 422)
            throw new ExampleError('invalid_input', messageOf(body, `Invalid productId: ${productId}`));
          if (res.status === 400) throw new ExampleError('bad_request', messageOf(body, 'bad request'));
          if (res.status !== 200) throw new UpstreamError('upstream_failed', `product answered ${res.status}`);
          return { value: body as ProductPart, address: res.serviceAddress };
        },
        {
          // An open breaker answers at once with a stand-in, as the Spring sample's fallback method does.
          fallback: (err) => {
            if (!isCallNotPermitted(err)) throw err;
            return {
              value: { productId, name: `Fallback product${productId}`, weight: productId },
              address: deps.serviceAddress(),
            };
          },
        },
      );
    },
    recommendations: (productId) => list<RecommendationPart>('recommendation', productId),
    reviews: (productId) => list<ReviewPart>('review', productId),
  };
}
