// Instances per served status, kept up to date change by change, so `apps__hashcode` costs O(1) per change instead
// of a pass over every instance (a 10,000-instance start-up would otherwise take seconds). The string is the codec's
// appsHashCode; test/registry/status-counts.test.ts checks the two agree.
import { INSTANCE_STATUSES } from '../eureka/index.ts';
import type { InstanceStatus } from '../eureka/index.ts';

/** Eureka's TreeMap<String, …> order: status names sorted as strings. */
const HASH_ORDER: readonly InstanceStatus[] = [...INSTANCE_STATUSES].sort();

export class StatusCounts {
  readonly #counts = new Map<InstanceStatus, number>(INSTANCE_STATUSES.map((s) => [s, 0]));
  #hash: string | undefined = '';

  /** Moves one instance from `from` to `to`; undefined stands for "not in the registry". */
  move(from: InstanceStatus | undefined, to: InstanceStatus | undefined): void {
    if (from === to) return;
    if (from !== undefined) this.#counts.set(from, (this.#counts.get(from) ?? 0) - 1);
    if (to !== undefined) this.#counts.set(to, (this.#counts.get(to) ?? 0) + 1);
    this.#hash = undefined;
  }

  /** Instances served with `status` now. */
  count(status: InstanceStatus): number {
    return this.#counts.get(status) ?? 0;
  }

  /** `STATUS_count_` for each status with instances, in name order; "" for an empty registry. */
  hashCode(): string {
    if (this.#hash === undefined) {
      let hash = '';
      for (const status of HASH_ORDER) {
        const count = this.#counts.get(status) ?? 0;
        if (count > 0) hash += `${status}_${count}_`;
      }
      this.#hash = hash;
    }
    return this.#hash;
  }
}
