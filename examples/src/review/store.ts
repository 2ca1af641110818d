// The review service's table, and how review events change it.
import type { ExampleDatabase } from '../shared/database.ts';
import { intField, textField, type Event } from '../shared/events.ts';

export interface Review {
  readonly productId: number;
  readonly reviewId: number;
  readonly author: string;
  readonly subject: string;
  readonly content: string;
}

export interface ReviewStore {
  forProduct(productId: number): Review[];
  /** Creates or replaces (events arrive at least once). */
  save(review: Review): void;
  deleteForProduct(productId: number): void;
}

interface Row {
  product_id: number;
  review_id: number;
  author: string;
  subject: string;
  content: string;
}

export function createReviewStore(db: ExampleDatabase): ReviewStore {
  const list = db.prepare<[number], Row>(
    'SELECT product_id, review_id, author, subject, content FROM reviews WHERE product_id = ? ORDER BY review_id',
  );
  const save = db.prepare<[number, number, string, string, string]>(
    `INSERT INTO reviews (product_id, review_id, author, subject, content) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (product_id, review_id) DO UPDATE SET author = excluded.author, subject = excluded.subject, content = excluded.content`,
  );
  const remove = db.prepare<[number]>('DELETE FROM reviews WHERE product_id = ?');
  return {
    forProduct: (productId) =>
      list.all(productId).map((r) => ({
        productId: r.product_id,
        reviewId: r.review_id,
        author: r.author,
        subject: r.subject,
        content: r.content,
      })),
    save(r) {
      save.run(r.productId, r.reviewId, r.author, r.subject, r.content);
    },
    deleteForProduct(productId) {
      remove.run(productId);
    },
  };
}

/** Applies one `reviews` event: CREATE adds one review, DELETE removes all of the product's. */
export function applyReviewEvent(store: ReviewStore, event: Event<Record<string, unknown>>): void {
  switch (event.eventType) {
    case 'CREATE': {
      const data = event.data ?? {};
      store.save({
        productId: event.key,
        reviewId: intField(data, 'reviewId', 1),
        author: textField(data, 'author', 100),
        subject: textField(data, 'subject', 200),
        content: textField(data, 'content'),
      });
      return;
    }
    case 'DELETE':
      store.deleteForProduct(event.key);
      return;
  }
}
