// The recommendation service's table, and how recommendation events change it.
import type { ExampleDatabase } from '../shared/database.ts';
import { intField, textField, type Event } from '../shared/events.ts';

export interface Recommendation {
  readonly productId: number;
  readonly recommendationId: number;
  readonly author: string;
  readonly rate: number;
  readonly content: string;
}

export interface RecommendationStore {
  forProduct(productId: number): Recommendation[];
  /** Creates or replaces (events arrive at least once). */
  save(recommendation: Recommendation): void;
  deleteForProduct(productId: number): void;
}

interface Row {
  product_id: number;
  recommendation_id: number;
  author: string;
  rate: number;
  content: string;
}

export function createRecommendationStore(db: ExampleDatabase): RecommendationStore {
  const list = db.prepare<[number], Row>(
    'SELECT product_id, recommendation_id, author, rate, content FROM recommendations WHERE product_id = ? ORDER BY recommendation_id',
  );
  const save = db.prepare<[number, number, string, number, string]>(
    `INSERT INTO recommendations (product_id, recommendation_id, author, rate, content) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (product_id, recommendation_id) DO UPDATE SET author = excluded.author, rate = excluded.rate, content = excluded.content`,
  );
  const remove = db.prepare<[number]>('DELETE FROM recommendations WHERE product_id = ?');
  return {
    forProduct: (productId) =>
      list.all(productId).map((r) => ({
        productId: r.product_id,
        recommendationId: r.recommendation_id,
        author: r.author,
        rate: r.rate,
        content: r.content,
      })),
    save(r) {
      save.run(r.productId, r.recommendationId, r.author, r.rate, r.content);
    },
    deleteForProduct(productId) {
      remove.run(productId);
    },
  };
}

/** Applies one `recommendations` event: CREATE adds one recommendation, DELETE removes all of the product's. */
export function applyRecommendationEvent(store: RecommendationStore, event: Event<Record<string, unknown>>): void {
  switch (event.eventType) {
    case 'CREATE': {
      const data = event.data ?? {};
      store.save({
        productId: event.key,
        recommendationId: intField(data, 'recommendationId', 1),
        author: textField(data, 'author', 100),
        rate: intField(data, 'rate'),
        content: textField(data, 'content'),
      });
      return;
    }
    case 'DELETE':
      store.deleteForProduct(event.key);
      return;
  }
}
