// Where the registry keeps its leases between runs. The model never calls it: persistence.ts subscribes the store
// to the registry's events, so the model stays pure and another engine can stand in behind this interface.
import type { LeaseRecord } from '../registry/events.ts';

export interface StoredRegistry {
  readonly leases: LeaseRecord[];
  /** The version of the last change saved. */
  readonly version: number;
  /** Rows that could not be read back (each with the reason); they are dropped from the store. */
  readonly skipped: readonly { readonly app: string; readonly id: string; readonly reason: string }[];
}

export interface RenewalWrite {
  readonly app: string;
  readonly id: string;
  readonly at: number;
}

export interface RegistryStore {
  load(): StoredRegistry;
  /** Inserts or replaces a lease and records the version it reached. */
  save(lease: LeaseRecord, version: number): void;
  remove(app: string, id: string, version: number): void;
  /** Updates the last renewal of many leases at once; leases no longer stored are skipped. */
  saveRenewals(renewals: readonly RenewalWrite[]): void;
  close(): void;
}
