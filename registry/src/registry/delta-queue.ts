// Eureka's recentlyChangedQueue: every change of the last few minutes, for GET /apps/delta. A client that fetched
// the full registry less than the retention ago and applies the delta gets today's registry.
import type { InstanceInfo } from '../eureka/index.ts';

export interface DeltaEntry {
  readonly at: number;
  /** `APP/id`: one instance across its changes. */
  readonly key: string;
  /** The instance as served right after the change, actionType set. */
  readonly instance: InstanceInfo;
}

export class DeltaQueue {
  #entries: DeltaEntry[] = [];
  /** Index of the oldest live entry; dropped entries are compacted away in bulk. */
  #head = 0;
  readonly #retentionMs: number;

  constructor(retentionMs: number) {
    this.#retentionMs = retentionMs;
  }

  add(entry: DeltaEntry): void {
    this.#entries.push(entry);
  }

  /** Drops entries older than the retention; true when any went (the delta body changed). */
  prune(now: number): boolean {
    const cutoff = now - this.#retentionMs;
    const before = this.#head;
    while (this.#head < this.#entries.length && (this.#entries[this.#head]?.at ?? Infinity) <= cutoff) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    return this.#head !== before;
  }

  /**
   * The latest state of every instance changed within the retention, each once (Eureka's Application keys
   * instances by id, so an instance added then modified appears once, as modified), in order of last change.
   */
  latest(): InstanceInfo[] {
    const byKey = new Map<string, InstanceInfo>();
    for (let i = this.#head; i < this.#entries.length; i++) {
      const entry = this.#entries[i];
      if (entry === undefined) continue;
      byKey.delete(entry.key);
      byKey.set(entry.key, entry.instance);
    }
    return [...byKey.values()];
  }

  get size(): number {
    return this.#entries.length - this.#head;
  }
}
