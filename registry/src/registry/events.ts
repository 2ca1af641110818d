// What the registry tells its subscribers: the watch stream, the response cache, the SQLite store and (later) the
// peer replicator. Changes are what GET /apps/delta would show; renewals are heartbeats, which change nothing a
// client caches but which the store and the replicator need.
import type { ActionType, InstanceInfo, InstanceStatus } from '../eureka/index.ts';

/** Why an instance changed; the replicator maps these onto Eureka's replication actions. */
export type ChangeCause =
  /** POST /apps/{APP}, or a replicated Register. */
  | 'register'
  /** DELETE /apps/{APP}/{ID}, or a replicated Cancel. */
  | 'cancel'
  /** The lease expired and the sweep removed it (each node evicts on its own; Eureka does not replicate this). */
  | 'eviction'
  /** PUT …/status: an override was set. */
  | 'status'
  /** DELETE …/status: the override was removed. */
  | 'status-override-deleted'
  /** PUT …/metadata (Eureka replicates it as a Register). */
  | 'metadata';

/** What the registry keeps about one lease; enough to restore it after a restart. */
export interface LeaseRecord {
  /** The instance as it registered: `status` is the status the instance itself reported. */
  readonly instance: InstanceInfo;
  /** An operator's override; UNKNOWN when none. */
  readonly overriddenStatus: InstanceStatus;
  readonly registrationTimestamp: number;
  readonly lastRenewalTimestamp: number;
  readonly serviceUpTimestamp: number;
  /** The action of the last change, served as `actionType`. */
  readonly actionType: ActionType;
}

export interface RegistryChange {
  readonly action: ActionType;
  readonly cause: ChangeCause;
  /** The instance as GET /apps serves it right after the change (actionType = action). */
  readonly instance: InstanceInfo;
  readonly lease: LeaseRecord;
  /** The registry's version after this change (`versions__delta`); increases by one per change. */
  readonly version: number;
  /** `apps__hashcode` of the whole registry after this change. */
  readonly appsHashCode: string;
  /** True when a peer sent it (x-netflix-discovery-replication), so it must not be replicated again. */
  readonly replicated: boolean;
  readonly at: number;
}

export interface RegistryRenewal {
  readonly app: string;
  readonly id: string;
  readonly at: number;
  readonly replicated: boolean;
}

/** A set of listeners; one failing listener is reported and does not keep the others from hearing the event. */
export class Listeners<T> {
  readonly #listeners = new Set<(event: T) => void>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  /** Adds a listener; returns the function that removes it. */
  add(listener: (event: T) => void): () => void {
    // A wrapper per subscription, so the same function subscribed twice is removed one subscription at a time.
    const entry = (event: T): void => listener(event);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  emit(event: T): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  get size(): number {
    return this.#listeners.size;
  }
}
