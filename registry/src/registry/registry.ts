// The registry model: leases, status overrides, eviction, self-preservation, the delta queue and change events.
// Pure and synchronous: no HTTP, storage or timers, and the clock is injected, so tests drive time by hand.
import { asciiUpperCase } from '../eureka/index.ts';
import type { ActionType, Application, InstanceInfo, InstanceStatus } from '../eureka/index.ts';
import { limitError } from '../errors.ts';
import { DeltaQueue } from './delta-queue.ts';
import { Listeners } from './events.ts';
import type { ChangeCause, LeaseRecord, RegistryChange, RegistryRenewal } from './events.ts';
import { RecentList } from './recent.ts';
import { RenewalRate } from './renewal-rate.ts';
import { idTaken } from './limits.ts';
import { evictionLimit, selfPreservation } from './self-preservation.ts';
import type { SelfPreservationSettings, SelfPreservationState } from './self-preservation.ts';
import { StatusCounts } from './status-counts.ts';
import { effectiveStatus, NO_OVERRIDE } from './status-rules.ts';

export interface RegistryOptions {
  /** Milliseconds since the epoch; Date.now unless a test drives time. */
  readonly clock?: () => number;
  readonly selfPreservation?: Partial<SelfPreservationSettings>;
  /** How long GET /apps/delta remembers a change. Default 3 minutes, as Eureka. */
  readonly deltaRetentionMs?: number;
  /** Length of the recent registrations and cancellations lists. Default 1000. */
  readonly recentLimit?: number;
  /** Told when a subscriber throws; the change itself has already happened. */
  readonly onListenerError?: (err: unknown) => void;
}

export interface WriteOptions {
  /** Sent by a peer (x-netflix-discovery-replication: true); subscribers see it and the replicator skips it. */
  readonly replicated?: boolean;
}

export interface RenewOptions extends WriteOptions {
  /** The client's lastDirtyTimestamp, compared with the registry's copy (see renew). */
  readonly lastDirtyTimestamp?: number;
  /** A replica's view of the override, stored when the replica's copy turns out newer. */
  readonly overriddenStatus?: InstanceStatus;
}

export type RenewResult =
  | { readonly outcome: 'renewed' }
  /** `unknown`: no such lease; `client_newer`: the client changed since it registered; `status_unknown`: see renew. */
  | { readonly outcome: 'not_found'; readonly reason: 'unknown' | 'client_newer' | 'status_unknown' }
  /** A replica sent an older copy: it should take this one. */
  | { readonly outcome: 'conflict'; readonly instance: InstanceInfo };

export interface StatusOptions extends WriteOptions {
  readonly lastDirtyTimestamp?: number;
}

export interface DeleteOverrideOptions extends StatusOptions {
  /** The status to serve from now on (Eureka's `value`); the instance's own reported status when absent. */
  readonly status?: InstanceStatus;
}

export interface RegisterResult {
  readonly action: ActionType;
  readonly instance: InstanceInfo;
  /** The registry already held a copy with a newer lastDirtyTimestamp and kept it, as Eureka does. */
  readonly keptNewer: boolean;
}

export interface RecentEntry {
  readonly at: number;
  readonly app: string;
  readonly id: string;
}

export interface RecentCancellation extends RecentEntry {
  readonly reason: 'cancel' | 'eviction';
}

export interface EvictionReport {
  readonly expired: number;
  readonly evicted: readonly RecentEntry[];
  /** Most evictions the sweep was allowed (Infinity with self-preservation off). */
  readonly limit: number;
  readonly selfPreservation: SelfPreservationState;
}

export interface RegistryStatus {
  readonly instances: number;
  readonly applications: number;
  readonly version: number;
  readonly renewsLastMinute: number;
  /** False while self-preservation is engaged. */
  readonly leaseExpirationEnabled: boolean;
  readonly selfPreservation: SelfPreservationState;
}

interface Lease {
  instance: InstanceInfo;
  overriddenStatus: InstanceStatus;
  registrationTimestamp: number;
  lastRenewalTimestamp: number;
  serviceUpTimestamp: number;
  evictionTimestamp: number;
  actionType: ActionType;
  /** When the lease expires unless renewed: the last renewal plus the instance's own durationInSecs. */
  expiresAt: number;
  /** Since when it renews under this registry's eyes; undefined for a restored lease until its first renewal. */
  renewingSince: number | undefined;
  /** The served InstanceInfo, built on first read after a change. */
  served: InstanceInfo | undefined;
  /** The status this lease is counted under in the hash; undefined once removed. */
  counted: InstanceStatus | undefined;
}

const MINUTE = 60_000;
const DEFAULT_SELF_PRESERVATION: SelfPreservationSettings = { enabled: true, minInstances: 7, renewalPercent: 0.85 };

/**
 * The registry: what is registered, for how long, and with which status.
 *
 * @example
 * const registry = new Registry({ clock: () => now });
 * registry.onChange((change) => console.log(change.action, change.instance.instanceId));
 * registry.register(instance);
 * registry.renew('REVIEW', 'host:review:7003');
 */
export class Registry {
  readonly #clock: () => number;
  readonly #selfPreservation: SelfPreservationSettings;
  readonly #apps = new Map<string, Map<string, Lease>>();
  /** Instance id → the one application holding it: an id is never held by two at once (see register). */
  readonly #holders = new Map<string, string>();
  readonly #delta: DeltaQueue;
  readonly #renewals = new RenewalRate();
  readonly #registered: RecentList<RecentEntry>;
  readonly #cancelled: RecentList<RecentCancellation>;
  readonly #changes: Listeners<RegistryChange>;
  readonly #renewed: Listeners<RegistryRenewal>;
  readonly #statuses = new StatusCounts();
  #version = 0;
  #size = 0;
  #deltaRevision = 0;

  constructor(options: RegistryOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#selfPreservation = { ...DEFAULT_SELF_PRESERVATION, ...options.selfPreservation };
    this.#delta = new DeltaQueue(options.deltaRetentionMs ?? 3 * MINUTE);
    const limit = options.recentLimit ?? 1000;
    this.#registered = new RecentList(limit);
    this.#cancelled = new RecentList(limit);
    const onError = options.onListenerError ?? (() => undefined);
    this.#changes = new Listeners(onError);
    this.#renewed = new Listeners(onError);
  }

  now(): number {
    return this.#clock();
  }

  // ---- subscriptions ----

  /** Every change, synchronously after it happened. Returns the unsubscribe function. */
  onChange(listener: (change: RegistryChange) => void): () => void {
    return this.#changes.add(listener);
  }

  /** Every accepted heartbeat. Returns the unsubscribe function. */
  onRenewal(listener: (renewal: RegistryRenewal) => void): () => void {
    return this.#renewed.add(listener);
  }

  /** How many change listeners are subscribed (watch streams must not leak them). */
  get changeListenerCount(): number {
    return this.#changes.size;
  }

  // ---- writes ----

  /**
   * Registers or re-registers an instance and starts a fresh lease of the instance's own durationInSecs.
   * As in Eureka, a re-registration carrying an older lastDirtyTimestamp than the copy held keeps the held copy,
   * the service-up time survives re-registration, and an override held for the instance survives too.
   * An id another application holds is refused (a RegistryError `conflict`; admitRegistration answers it first), so
   * no one can shadow another application's instance by id; it is free again once that instance is cancelled or expires.
   */
  register(registrant: InstanceInfo, options: WriteOptions = {}): RegisterResult {
    const now = this.#clock();
    // The codec upper-cases already; a caller of the model (a replicator) may not have.
    const instance = canonical(registrant);
    const holder = this.#holders.get(instance.instanceId);
    if (holder !== undefined && holder !== instance.app) throw limitError(idTaken(instance.instanceId, holder));
    const existing = this.#lease(instance.app, instance.instanceId);
    const keptNewer = existing !== undefined && existing.instance.lastDirtyTimestamp > instance.lastDirtyTimestamp;
    const chosen = keptNewer ? existing.instance : instance;
    const overriddenStatus =
      existing !== undefined && existing.overriddenStatus !== NO_OVERRIDE
        ? existing.overriddenStatus
        : chosen.overriddenStatus;
    const lease: Lease = {
      instance: { ...chosen, lastUpdatedTimestamp: now },
      overriddenStatus,
      registrationTimestamp: now,
      lastRenewalTimestamp: now,
      serviceUpTimestamp: existing?.serviceUpTimestamp ?? 0,
      evictionTimestamp: 0,
      actionType: existing === undefined ? 'ADDED' : 'MODIFIED',
      expiresAt: now + durationMs(chosen),
      renewingSince: existing?.renewingSince ?? now,
      served: undefined,
      counted: existing?.counted,
    };
    markServiceUp(lease, now);
    let leases = this.#apps.get(instance.app);
    if (leases === undefined) {
      leases = new Map();
      this.#apps.set(instance.app, leases);
    }
    leases.set(instance.instanceId, lease);
    if (existing === undefined) {
      this.#size++;
      this.#holders.set(instance.instanceId, instance.app);
    }
    this.#registered.add({ at: now, app: instance.app, id: instance.instanceId });
    const served = this.#changed(lease, 'register', options, now);
    return { action: lease.actionType, instance: served, keptNewer };
  }

  /**
   * A heartbeat. Eureka's rules: unknown lease → not found (the client re-registers); a served status of UNKNOWN →
   * not found, so the client re-registers with its real status; otherwise the lease is renewed, then the client's
   * lastDirtyTimestamp is compared with ours: newer → not found (its registration is out of date, it re-registers);
   * older → a replica gets a conflict with our copy to sync from, a client just gets its renewal.
   */
  renew(app: string, id: string, options: RenewOptions = {}): RenewResult {
    const lease = this.#lease(app, id);
    if (lease === undefined) return { outcome: 'not_found', reason: 'unknown' };
    if (effectiveStatus(lease.instance.status, lease.overriddenStatus) === 'UNKNOWN')
      return { outcome: 'not_found', reason: 'status_unknown' };
    const now = this.#clock();
    lease.lastRenewalTimestamp = now;
    lease.expiresAt = now + durationMs(lease.instance);
    lease.renewingSince ??= now;
    lease.served = undefined;
    this.#renewals.add(now);
    this.#renewed.emit({ app: lease.instance.app, id, at: now, replicated: options.replicated === true });

    const theirs = options.lastDirtyTimestamp;
    const ours = lease.instance.lastDirtyTimestamp;
    if (theirs === undefined || theirs === ours) return { outcome: 'renewed' };
    if (theirs > ours) {
      const override = options.overriddenStatus;
      // Eureka keeps the replica's override here, so the re-registration that follows is served with it.
      if (options.replicated === true && override !== undefined && override !== NO_OVERRIDE) {
        if (lease.overriddenStatus !== override) {
          lease.overriddenStatus = override;
          this.#changed(lease, 'status', options, now);
        }
      }
      return { outcome: 'not_found', reason: 'client_newer' };
    }
    return options.replicated === true ? { outcome: 'conflict', instance: this.#serve(lease) } : { outcome: 'renewed' };
  }

  /** Removes an instance (DELETE /apps/{APP}/{ID}); false when unknown. */
  cancel(app: string, id: string, options: WriteOptions = {}): boolean {
    const lease = this.#lease(app, id);
    if (lease === undefined) return false;
    this.#remove(lease, 'cancel', options, this.#clock());
    return true;
  }

  /** Sets an override (PUT …/status?value=); false when the instance is unknown. */
  setStatusOverride(app: string, id: string, status: InstanceStatus, options: StatusOptions = {}): boolean {
    const lease = this.#lease(app, id);
    if (lease === undefined) return false;
    const now = this.#clock();
    lease.overriddenStatus = status;
    lease.instance = touched(lease.instance, now, options.lastDirtyTimestamp);
    markServiceUp(lease, now);
    this.#changed(lease, 'status', options, now);
    return true;
  }

  /**
   * Removes the override (DELETE …/status). Eureka then serves `value` (default UNKNOWN, which makes the next
   * heartbeat answer 404 so the client re-registers); we keep the status the instance reported, so it is served
   * at once, and apply `value` only when one is given.
   */
  deleteStatusOverride(app: string, id: string, options: DeleteOverrideOptions = {}): boolean {
    const lease = this.#lease(app, id);
    if (lease === undefined) return false;
    const now = this.#clock();
    lease.overriddenStatus = NO_OVERRIDE;
    const reported = options.status ?? lease.instance.status;
    lease.instance = { ...touched(lease.instance, now, options.lastDirtyTimestamp), status: reported };
    markServiceUp(lease, now);
    this.#changed(lease, 'status-override-deleted', options, now);
    return true;
  }

  /** Merges metadata entries (PUT …/metadata); false when unknown. No change, no event. */
  updateMetadata(
    app: string,
    id: string,
    entries: Readonly<Record<string, string>>,
    options: WriteOptions = {},
  ): boolean {
    const lease = this.#lease(app, id);
    if (lease === undefined) return false;
    const current = lease.instance.metadata;
    const changed = Object.keys(entries).some((key) => !Object.hasOwn(current, key) || current[key] !== entries[key]);
    if (!changed) return true;
    const now = this.#clock();
    lease.instance = { ...lease.instance, metadata: { ...current, ...entries }, lastUpdatedTimestamp: now };
    this.#changed(lease, 'metadata', options, now);
    return true;
  }

  /**
   * The eviction sweep: removes leases whose time is up, oldest expiry first. Nothing while self-preservation is
   * engaged; with self-preservation enabled, at most size - floor(size × percent) per sweep, as Eureka, so a
   * sudden mass expiry is spread over several sweeps.
   */
  evictExpired(): EvictionReport {
    const now = this.#clock();
    this.#pruneDelta(now);
    const state = this.selfPreservation();
    const expired: Lease[] = [];
    for (const leases of this.#apps.values()) {
      for (const lease of leases.values()) if (now >= lease.expiresAt) expired.push(lease);
    }
    if (state.engaged) return { expired: expired.length, evicted: [], limit: 0, selfPreservation: state };
    const limit = state.enabled ? evictionLimit(this.#size, this.#selfPreservation.renewalPercent) : Infinity;
    expired.sort((a, b) => a.expiresAt - b.expiresAt);
    const evicted: RecentEntry[] = [];
    for (const lease of expired.slice(0, limit)) {
      this.#remove(lease, 'eviction', {}, now);
      evicted.push({ at: now, app: lease.instance.app, id: lease.instance.instanceId });
    }
    return { expired: expired.length, evicted, limit, selfPreservation: state };
  }

  /**
   * Loads leases saved before a restart. Each gets `graceMs` (default: its own lease duration) from now to renew
   * before it can expire, and counts for self-preservation only once it renews, so instances that died with the
   * old process are evicted instead of holding eviction off. No events: nothing changed for clients.
   */
  restore(records: Iterable<LeaseRecord>, options: { version?: number; graceMs?: number } = {}): number {
    const now = this.#clock();
    let count = 0;
    for (const record of records) {
      const instance = canonical(record.instance);
      // A store written before ids were held by one application may hold an id twice: the first one read keeps it.
      if (this.#holders.has(instance.instanceId)) continue;
      const lease: Lease = {
        instance,
        overriddenStatus: record.overriddenStatus,
        registrationTimestamp: record.registrationTimestamp,
        lastRenewalTimestamp: record.lastRenewalTimestamp,
        serviceUpTimestamp: record.serviceUpTimestamp,
        evictionTimestamp: 0,
        actionType: record.actionType,
        expiresAt: Math.max(
          record.lastRenewalTimestamp + durationMs(instance),
          now + (options.graceMs ?? durationMs(instance)),
        ),
        renewingSince: undefined,
        served: undefined,
        counted: undefined,
      };
      let leases = this.#apps.get(instance.app);
      if (leases === undefined) {
        leases = new Map();
        this.#apps.set(instance.app, leases);
      }
      leases.set(instance.instanceId, lease);
      this.#holders.set(instance.instanceId, instance.app);
      this.#recount(lease, this.#serve(lease).status);
      this.#size++;
      count++;
    }
    this.#version = Math.max(this.#version, options.version ?? 0);
    this.#deltaRevision++;
    return count;
  }

  // ---- reads ----

  /** `versions__delta`: the number of changes so far (survives restarts through the store). */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#size;
  }

  /** Instances served with `status` now (the dashboard's and the metrics' count per status); O(1). */
  countWithStatus(status: InstanceStatus): number {
    return this.#statuses.count(status);
  }

  /**
   * Changes whenever GET /apps/delta's content may have changed (a change, or old changes leaving the window), so
   * a cached delta body can be checked against it; call pruneDelta() first so time is taken into account.
   */
  get deltaRevision(): number {
    return this.#deltaRevision;
  }

  /** Forgets changes older than the delta retention (moving deltaRevision when any go). */
  pruneDelta(): void {
    this.#pruneDelta(this.#clock());
  }

  /** `apps__hashcode` of the whole registry. */
  appsHashCode(): string {
    return this.#statuses.hashCode();
  }

  /** Every application with its served instances, in order of first registration. */
  applications(): Application[] {
    const out: Application[] = [];
    for (const [name, leases] of this.#apps) {
      if (leases.size === 0) continue;
      out.push({ name, instances: Array.from(leases.values(), (lease) => this.#serve(lease)) });
    }
    return out;
  }

  /** One application (name upper-cased by the caller or not), undefined when it has no instances. */
  application(app: string): Application | undefined {
    const name = asciiUpperCase(app);
    const leases = this.#apps.get(name);
    if (leases === undefined || leases.size === 0) return undefined;
    return { name, instances: Array.from(leases.values(), (lease) => this.#serve(lease)) };
  }

  /** How many instances an application holds, without building them (the registration limits read it). */
  applicationSize(app: string): number {
    return this.#apps.get(asciiUpperCase(app))?.size ?? 0;
  }

  /** Whether this instance is held. */
  has(app: string, id: string): boolean {
    return this.#lease(app, id) !== undefined;
  }

  instance(app: string, id: string): InstanceInfo | undefined {
    const lease = this.#lease(app, id);
    return lease === undefined ? undefined : this.#serve(lease);
  }

  /** The instance with this id, whatever its application (GET /instances/{ID}): an id is held by one at most. */
  instanceById(id: string): InstanceInfo | undefined {
    const holder = this.#holders.get(id);
    return holder === undefined ? undefined : this.instance(holder, id);
  }

  /** The application holding this instance id, undefined when none does. */
  holderOf(id: string): string | undefined {
    return this.#holders.get(id);
  }

  /** The lease as the store saves it. */
  leaseRecord(app: string, id: string): LeaseRecord | undefined {
    const lease = this.#lease(app, id);
    return lease === undefined ? undefined : record(lease);
  }

  /** What GET /apps/delta lists: each instance changed in the retention window once, in its latest state. */
  deltaInstances(): InstanceInfo[] {
    this.#pruneDelta(this.#clock());
    return this.#delta.latest();
  }

  renewsLastMinute(): number {
    return this.#renewals.lastMinute(this.#clock());
  }

  selfPreservation(): SelfPreservationState {
    const now = this.#clock();
    let established = 0;
    let expected = 0;
    for (const leases of this.#apps.values()) {
      for (const lease of leases.values()) {
        if (lease.renewingSince === undefined || now - lease.renewingSince < MINUTE) continue;
        established++;
        expected += 60 / lease.instance.leaseInfo.renewalIntervalInSecs;
      }
    }
    return selfPreservation({
      ...this.#selfPreservation,
      establishedInstances: established,
      expectedRenewalsPerMinute: expected,
      renewsLastMinute: this.#renewals.lastMinute(now),
    });
  }

  status(): RegistryStatus {
    const state = this.selfPreservation();
    let applications = 0;
    for (const leases of this.#apps.values()) if (leases.size > 0) applications++;
    return {
      instances: this.#size,
      applications,
      version: this.#version,
      renewsLastMinute: state.renewsLastMinute,
      leaseExpirationEnabled: !state.engaged,
      selfPreservation: state,
    };
  }

  /** The last registrations, newest first. */
  recentRegistrations(): RecentEntry[] {
    return this.#registered.list();
  }

  /** The last cancellations and evictions, newest first. */
  recentCancellations(): RecentCancellation[] {
    return this.#cancelled.list();
  }

  // ---- internals ----

  #lease(app: string, id: string): Lease | undefined {
    return this.#apps.get(asciiUpperCase(app))?.get(id);
  }

  #serve(lease: Lease): InstanceInfo {
    lease.served ??= serve(lease);
    return lease.served;
  }

  #recount(lease: Lease, status: InstanceStatus | undefined): void {
    this.#statuses.move(lease.counted, status);
    lease.counted = status;
  }

  #remove(lease: Lease, cause: 'cancel' | 'eviction', options: WriteOptions, now: number): void {
    const { app, instanceId } = lease.instance;
    const leases = this.#apps.get(app);
    leases?.delete(instanceId);
    if (leases?.size === 0) this.#apps.delete(app);
    this.#holders.delete(instanceId);
    this.#size--;
    lease.evictionTimestamp = now;
    this.#recount(lease, undefined);
    this.#cancelled.add({ at: now, app, id: instanceId, reason: cause });
    this.#changed(lease, cause, options, now, 'DELETED');
  }

  #changed(lease: Lease, cause: ChangeCause, options: WriteOptions, now: number, action?: ActionType): InstanceInfo {
    if (action !== undefined) lease.actionType = action;
    else if (cause !== 'register') lease.actionType = 'MODIFIED';
    lease.served = undefined;
    const instance = this.#serve(lease);
    if (action !== 'DELETED') this.#recount(lease, instance.status);
    this.#version++;
    this.#deltaRevision++;
    this.#delta.add({ at: now, key: `${instance.app}/${instance.instanceId}`, instance });
    if (this.#changes.size > 0) {
      this.#changes.emit({
        action: lease.actionType,
        cause,
        instance,
        lease: record(lease),
        version: this.#version,
        appsHashCode: this.appsHashCode(),
        replicated: options.replicated === true,
        at: now,
      });
    }
    return instance;
  }

  #pruneDelta(now: number): void {
    if (this.#delta.prune(now)) this.#deltaRevision++;
  }
}

function canonical(instance: InstanceInfo): InstanceInfo {
  const app = asciiUpperCase(instance.app);
  return app === instance.app ? instance : { ...instance, app };
}

function durationMs(instance: InstanceInfo): number {
  return instance.leaseInfo.durationInSecs * 1000;
}

/** Eureka's Lease.serviceUp: the first time the instance is served UP. */
function markServiceUp(lease: Lease, now: number): void {
  if (lease.serviceUpTimestamp === 0 && effectiveStatus(lease.instance.status, lease.overriddenStatus) === 'UP') {
    lease.serviceUpTimestamp = now;
  }
}

/** Eureka's status updates stamp lastUpdatedTimestamp and take a newer lastDirtyTimestamp from the caller. */
function touched(instance: InstanceInfo, now: number, lastDirtyTimestamp: number | undefined): InstanceInfo {
  const dirty =
    lastDirtyTimestamp !== undefined && lastDirtyTimestamp > instance.lastDirtyTimestamp
      ? lastDirtyTimestamp
      : instance.lastDirtyTimestamp;
  return { ...instance, lastUpdatedTimestamp: now, lastDirtyTimestamp: dirty };
}

function serve(lease: Lease): InstanceInfo {
  const { instance } = lease;
  return {
    ...instance,
    status: effectiveStatus(instance.status, lease.overriddenStatus),
    overriddenStatus: lease.overriddenStatus,
    leaseInfo: {
      renewalIntervalInSecs: instance.leaseInfo.renewalIntervalInSecs,
      durationInSecs: instance.leaseInfo.durationInSecs,
      registrationTimestamp: lease.registrationTimestamp,
      lastRenewalTimestamp: lease.lastRenewalTimestamp,
      evictionTimestamp: lease.evictionTimestamp,
      serviceUpTimestamp: lease.serviceUpTimestamp,
    },
    // Only a registry that coordinates discovery for others sets this; registered instances never do.
    isCoordinatingDiscoveryServer: false,
    actionType: lease.actionType,
  };
}

function record(lease: Lease): LeaseRecord {
  return {
    instance: lease.instance,
    overriddenStatus: lease.overriddenStatus,
    registrationTimestamp: lease.registrationTimestamp,
    lastRenewalTimestamp: lease.lastRenewalTimestamp,
    serviceUpTimestamp: lease.serviceUpTimestamp,
    actionType: lease.actionType,
  };
}
