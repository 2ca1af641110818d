// The dashboard's "last 1000 registrations / cancellations": a bounded list, newest first when read.

export class RecentList<T> {
  readonly #items: T[] = [];
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  add(item: T): void {
    this.#items.push(item);
    // Trim in chunks so a steady stream of additions does not shift the array on every call.
    if (this.#items.length > this.#limit + 64) this.#items.splice(0, this.#items.length - this.#limit);
  }

  /** Newest first, at most `limit` items. */
  list(): T[] {
    const from = Math.max(0, this.#items.length - this.#limit);
    return this.#items.slice(from).reverse();
  }
}
