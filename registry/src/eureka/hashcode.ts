// Eureka's reconcile hash (Applications.getReconcileHashCode / populateInstanceCountMap): count instances by
// their `status` (the effective one, not overriddenStatus), walk a TreeMap of status names (so alphabetical,
// statuses with no instances absent) and append `STATUS_count_` for each. The empty registry hashes to "".
// Clients recompute it after applying a delta and refetch everything on a mismatch, so it must match exactly.
import type { InstanceStatus } from './instance.ts';

/** INSTANCE_STATUSES sorted by name, the iteration order of Eureka's TreeMap<String, …>. */
const HASH_ORDER = ['DOWN', 'OUT_OF_SERVICE', 'STARTING', 'UNKNOWN', 'UP'] as const satisfies readonly InstanceStatus[];

/**
 * The `apps__hashcode` of a set of instances.
 * @example appsHashCode([{ status: 'UP' }, { status: 'DOWN' }, { status: 'UP' }]) // 'DOWN_1_UP_2_'
 */
export function appsHashCode(instances: Iterable<{ readonly status: InstanceStatus }>): string {
  const counts: Record<InstanceStatus, number> = { UP: 0, DOWN: 0, STARTING: 0, OUT_OF_SERVICE: 0, UNKNOWN: 0 };
  for (const instance of instances) counts[instance.status] += 1;
  let hash = '';
  for (const status of HASH_ORDER) {
    const count = counts[status];
    if (count > 0) hash += `${status}_${count}_`;
  }
  return hash;
}
