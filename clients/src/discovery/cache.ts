// The local registry cache: the pure model behind the discovery client (no I/O, no timers), so full fetches, deltas,
// watch events and hashcode reconciliation are tested without a socket.
import type { ActionType, ApplicationsDocument, InstanceStatus, ServiceInstance } from './wire.ts';

/** One instance that appeared, changed or went away; `previous` is what the cache held before. */
export interface InstanceChange {
  readonly type: ActionType;
  readonly instance: ServiceInstance;
  readonly previous: ServiceInstance | undefined;
}

/** Status names in the order of Eureka's TreeMap<String, …> walk: alphabetical. */
const HASH_ORDER: readonly InstanceStatus[] = ['DOWN', 'OUT_OF_SERVICE', 'STARTING', 'UNKNOWN', 'UP'];

/**
 * Eureka's `apps__hashcode` (Applications.getReconcileHashCode): instances counted by status, statuses in
 * alphabetical order, each written `STATUS_count_`; statuses without instances are left out, so an empty registry
 * hashes to "".
 *
 * @example
 * reconcileHashCode([{ status: 'UP' }, { status: 'DOWN' }, { status: 'UP' }]); // 'DOWN_1_UP_2_'
 */
export function reconcileHashCode(instances: Iterable<{ readonly status: InstanceStatus }>): string {
  const counts = new Map<InstanceStatus, number>();
  for (const i of instances) counts.set(i.status, (counts.get(i.status) ?? 0) + 1);
  return hashOfCounts(counts);
}

function hashOfCounts(counts: ReadonlyMap<InstanceStatus, number>): string {
  let hash = '';
  for (const status of HASH_ORDER) {
    const n = counts.get(status) ?? 0;
    if (n > 0) hash += `${status}_${n}_`;
  }
  return hash;
}

/**
 * Whether two readings of an instance differ in anything a caller acts on. Lease timestamps are left out: they move
 * on every heartbeat, and a full fetch must not report every instance as modified.
 */
export function sameInstance(a: ServiceInstance, b: ServiceInstance): boolean {
  return (
    a.status === b.status &&
    a.overriddenStatus === b.overriddenStatus &&
    a.hostName === b.hostName &&
    a.ipAddr === b.ipAddr &&
    a.port.port === b.port.port &&
    a.port.enabled === b.port.enabled &&
    a.securePort.port === b.securePort.port &&
    a.securePort.enabled === b.securePort.enabled &&
    a.lastDirtyTimestamp === b.lastDirtyTimestamp &&
    a.vipAddress === b.vipAddress &&
    a.homePageUrl === b.homePageUrl &&
    a.statusPageUrl === b.statusPageUrl &&
    a.healthCheckUrl === b.healthCheckUrl &&
    sameMap(a.metadata, b.metadata)
  );
}

function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

const EMPTY = { all: [], up: [] } as const;

const byInstanceId = (a: ServiceInstance, b: ServiceInstance): number =>
  a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0;

/**
 * Instances by application (upper-cased) and instance id. Lists handed out are sorted by instance id and rebuilt
 * only when the application changes, so round robin walks a stable order and a read costs no allocation.
 *
 * @example
 * const cache = new InstanceCache();
 * cache.replace(readApplications(await res.body.json()));
 * const { hashMatches } = cache.applyDelta(readApplications(delta)); // false: fetch everything again
 */
export class InstanceCache {
  readonly #apps = new Map<string, Map<string, ServiceInstance>>();
  readonly #lists = new Map<string, { all: readonly ServiceInstance[]; up: readonly ServiceInstance[] }>();
  readonly #counts = new Map<InstanceStatus, number>();
  #size = 0;
  /** `versions__delta` of the last document or event applied. */
  versionsDelta = '';

  /** The hashcode of what the cache holds now, kept up to date on every change. */
  hashCode(): string {
    return hashOfCounts(this.#counts);
  }

  get size(): number {
    return this.#size;
  }

  /** Application names (upper-cased) with at least one instance, sorted. */
  applications(): string[] {
    return [...this.#apps.keys()].sort();
  }

  /** Every instance of an application, whatever its status. */
  all(app: string): readonly ServiceInstance[] {
    return this.#list(app.toUpperCase()).all;
  }

  /** The instances of an application whose status is UP: the only load-balancing candidates. */
  up(app: string): readonly ServiceInstance[] {
    return this.#list(app.toUpperCase()).up;
  }

  get(app: string, instanceId: string): ServiceInstance | undefined {
    return this.#apps.get(app.toUpperCase())?.get(instanceId);
  }

  /** Replaces everything with a full fetch or a watch snapshot; returns the difference as changes. */
  replace(document: ApplicationsDocument): InstanceChange[] {
    const changes: InstanceChange[] = [];
    const seen = new Set<string>();
    for (const instance of document.instances) {
      seen.add(key(instance.app, instance.instanceId));
      const change = this.#put(instance);
      if (change !== undefined) changes.push(change);
    }
    for (const [app, instances] of [...this.#apps]) {
      for (const instance of [...instances.values()]) {
        if (!seen.has(key(app, instance.instanceId))) changes.push(this.#remove(instance));
      }
    }
    this.versionsDelta = document.versionsDelta;
    return changes;
  }

  /**
   * Applies one change the way Eureka's DiscoveryClient.updateDelta does: ADDED and MODIFIED put the instance (a
   * MODIFIED for an unknown instance adds it), DELETED removes it. Returns undefined when nothing changed.
   */
  apply(action: ActionType, instance: ServiceInstance): InstanceChange | undefined {
    if (action === 'DELETED') {
      const existing = this.get(instance.app, instance.instanceId);
      return existing === undefined ? undefined : this.#remove(existing);
    }
    return this.#put(instance);
  }

  /**
   * Applies a delta, then compares the recomputed hashcode with the one the server sent for its whole registry.
   * A mismatch means the cache has drifted (a missed delta, a delta older than the server's queue); the caller then
   * does a full fetch, as Eureka's client does.
   */
  applyDelta(delta: ApplicationsDocument): { changes: InstanceChange[]; hashMatches: boolean } {
    const changes: InstanceChange[] = [];
    for (const instance of delta.instances) {
      // Eureka's client treats a delta entry without actionType as an addition (its switch has no default).
      const change = this.apply(instance.actionType ?? 'ADDED', instance);
      if (change !== undefined) changes.push(change);
    }
    this.versionsDelta = delta.versionsDelta;
    return { changes, hashMatches: this.hashCode() === delta.appsHashCode };
  }

  #put(instance: ServiceInstance): InstanceChange | undefined {
    let instances = this.#apps.get(instance.app);
    if (instances === undefined) {
      instances = new Map();
      this.#apps.set(instance.app, instances);
    }
    const previous = instances.get(instance.instanceId);
    instances.set(instance.instanceId, instance);
    if (previous !== undefined) this.#count(previous.status, -1);
    else this.#size++;
    this.#count(instance.status, 1);
    // The newer reading replaces the old one either way (fresh lease timestamps), but only a real change is news.
    this.#lists.delete(instance.app);
    if (previous === undefined) return { type: 'ADDED', instance, previous };
    return sameInstance(previous, instance) ? undefined : { type: 'MODIFIED', instance, previous };
  }

  #remove(instance: ServiceInstance): InstanceChange {
    const instances = this.#apps.get(instance.app);
    instances?.delete(instance.instanceId);
    if (instances?.size === 0) this.#apps.delete(instance.app);
    this.#size--;
    this.#count(instance.status, -1);
    this.#lists.delete(instance.app);
    return { type: 'DELETED', instance, previous: instance };
  }

  #count(status: InstanceStatus, by: number): void {
    const n = (this.#counts.get(status) ?? 0) + by;
    if (n === 0) this.#counts.delete(status);
    else this.#counts.set(status, n);
  }

  #list(app: string): { all: readonly ServiceInstance[]; up: readonly ServiceInstance[] } {
    let lists = this.#lists.get(app);
    if (lists === undefined) {
      const instances = this.#apps.get(app);
      // Unknown names are not remembered: callers may ask for any host name.
      if (instances === undefined) return EMPTY;
      const all = [...instances.values()].sort(byInstanceId);
      lists = { all, up: all.filter((i) => i.status === 'UP') };
      this.#lists.set(app, lists);
    }
    return lists;
  }
}

function key(app: string, instanceId: string): string {
  return `${app}\u0000${instanceId}`;
}
