// The product service's table, and how product events change it.
import type { ExampleDatabase } from '../shared/database.ts';
import { intField, textField, type Event } from '../shared/events.ts';

export interface Product {
  readonly productId: number;
  readonly name: string;
  readonly weight: number;
}

export interface ProductStore {
  find(productId: number): Product | undefined;
  /** Creates or replaces: events are delivered at least once, so a repeated CREATE must change nothing. */
  save(product: Product): void;
  delete(productId: number): void;
}

export function createProductStore(db: ExampleDatabase): ProductStore {
  const find = db.prepare<[number], { product_id: number; name: string; weight: number }>(
    'SELECT product_id, name, weight FROM products WHERE product_id = ?',
  );
  const save = db.prepare<[number, string, number]>(
    'INSERT INTO products (product_id, name, weight) VALUES (?, ?, ?) ON CONFLICT (product_id) DO UPDATE SET name = excluded.name, weight = excluded.weight',
  );
  const remove = db.prepare<[number]>('DELETE FROM products WHERE product_id = ?');
  return {
    find(productId) {
      const row = find.get(productId);
      return row === undefined ? undefined : { productId: row.product_id, name: row.name, weight: row.weight };
    },
    save(p) {
      save.run(p.productId, p.name, p.weight);
    },
    delete(productId) {
      remove.run(productId);
    },
  };
}

/** Applies one `products` event; DELETE of an unknown product is fine (Spring's sample ignores it too). */
export function applyProductEvent(store: ProductStore, event: Event<Record<string, unknown>>): void {
  switch (event.eventType) {
    case 'CREATE': {
      const data = event.data ?? {};
      store.save({ productId: event.key, name: textField(data, 'name'), weight: intField(data, 'weight') });
      return;
    }
    case 'DELETE':
      store.delete(event.key);
      return;
  }
}
