// What `trellis up` needs to know about the example landscape beyond each component.
// The start order, which services scale, and the development encrypt key the shipped config-repo's {cipher} values
// were made with.
import type { Component } from '@trellis/kit';
import type { CoreService } from './shared/events.ts';
import { productCompositeComponent } from './product-composite/main.ts';
import { productComponent } from './product/main.ts';
import { recommendationComponent } from './recommendation/main.ts';
import { reviewComponent } from './review/main.ts';

/** Core services first, so the composite's first calls find them registered. */
export const exampleComponents: readonly Component[] = [
  productComponent,
  recommendationComponent,
  reviewComponent,
  productCompositeComponent,
];

/** Services `--scale name=n` may start several instances of. */
export const SCALABLE: ReadonlySet<string> = new Set(exampleComponents.map((c) => c.name));

/**
 * The symmetric key of config-repo's `{cipher}` values. For development only: `trellis up` gives it to the config
 * server when no ENCRYPT_KEY is set, and refuses it with NODE_ENV=production.
 */
export const DEV_ENCRYPT_KEY = 'trellis-dev-only-encrypt-key';

function isCore(name: string): name is CoreService {
  return name === 'product' || name === 'recommendation' || name === 'review';
}

/**
 * The environment that tells the composite how many partitions each scaled core service reads, and each scaled
 * instance which partition is its own (Spring's instanceCount and instanceIndex).
 *
 * @example
 * partitionsEnv({ review: 3 }); // { PRODUCT_COMPOSITE_EVENT_PARTITIONS: 'review=3' }
 */
export function partitionsEnv(scale: Readonly<Record<string, number>>): Record<string, string> {
  const entries = Object.entries(scale).filter(([name, n]) => isCore(name) && n > 1);
  return entries.length === 0
    ? {}
    : { PRODUCT_COMPOSITE_EVENT_PARTITIONS: entries.map(([n, c]) => `${n}=${c}`).join(',') };
}
