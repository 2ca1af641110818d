// Replication to peer registry nodes with Eureka's batch protocol: every local change and heartbeat (never one a
// peer sent us) is queued per peer and sent as POST {peer}/peerreplication/batch, up to `batchSize` items at a time,
// at the latest `batchDelayMs` after the first one queued. Per-item answers are acted on as Eureka's
// ReplicationTaskProcessor does: a heartbeat answered 404 re-registers the instance there; a heartbeat answered 409
// carries the peer's newer copy, which we take.
//
// A peer that is down gets the same batch again after a backoff; a batch a peer refuses as too large (413) goes again
// in halves, so one node's smaller body limit cannot hold up the queue. Nothing waits forever: an item is dropped once the
// lease it is about would have expired (a peer that missed it for that long learns the state from its own eviction
// or from the next registration), one pending heartbeat per instance replaces the previous one, and the queue has a
// hard cap.
import { backoffDelay, describeError, systemClock, type BackoffOptions, type Clock } from '@trellis/clients/http';
import type { Logger } from '@trellis/kit';
import { isJsonObject, readJsonInstance } from '../eureka/json-read.ts';
import { normalizeInstance } from '../eureka/normalize.ts';
import { parseJsonText } from '../eureka/parse.ts';
import { renderReplicationBatch } from '../eureka/index.ts';
import type { ReplicationItem } from '../eureka/index.ts';
import { REPLICATION_HEADER } from '../http/negotiate.ts';
import type { LeaseRecord, RegistryChange, RegistryRenewal } from '../registry/events.ts';
import type { Registry } from '../registry/registry.ts';
import { takenViolation } from '../registry/limits.ts';
import { effectiveStatus } from '../registry/status-rules.ts';
import type { PeerHttp } from './peer-http.ts';
import type { PeerUrl } from './peer-url.ts';

export type PeerState = 'unknown' | 'reachable' | 'unreachable';

/** What the health details and the dashboard show about one peer. */
export interface PeerStatus {
  readonly url: string;
  /** `unknown` until the first batch (or start-up sync) got an answer or failed. */
  readonly state: PeerState;
  readonly lastContactAt: number | undefined;
  /** Why the last attempt failed; never a body or a credential. */
  readonly lastError: string | undefined;
  readonly queued: number;
  /** Items given up on (expired while the peer was down, or over the cap) since start. */
  readonly dropped: number;
}

export interface ReplicatorOptions {
  readonly registry: Registry;
  readonly peers: readonly PeerUrl[];
  readonly http: PeerHttp;
  readonly log: Logger;
  readonly clock?: Clock;
  /** Items per batch. Default 250, as Eureka. */
  readonly batchSize?: number;
  /** Longest an item waits for its batch to fill. Default 500 ms, as Eureka. */
  readonly batchDelayMs?: number;
  /** Hard cap of items queued per peer; the oldest go first. Default 50,000. */
  readonly maxQueued?: number;
  /** Longest wait for a batch's answer. Default 5 s. */
  readonly timeoutMs?: number;
  /** Retry delays while a peer is down. Default 500 ms doubling up to 30 s. */
  readonly backoff?: BackoffOptions;
}

interface Pending {
  item: ReplicationItem;
  /** When the lease the item is about would have expired: past this, the item is dropped unsent. */
  expiresAt: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 30_000 };

/**
 * Replicates local registry changes to peers.
 * @example
 * const replicator = new PeerReplicator({ registry, peers: [parsePeerUrl('http://peer:8762/eureka', undefined)], http, log });
 * replicator.start();
 * service.onShutdown('replication', () => replicator.stop());
 */
export class PeerReplicator {
  readonly #registry: Registry;
  readonly #channels: PeerChannel[];
  #unsubscribe: (() => void)[] = [];

  constructor(options: ReplicatorOptions) {
    this.#registry = options.registry;
    this.#channels = options.peers.map((peer) => new PeerChannel(peer, options));
  }

  /** Subscribes to the registry; from now on every local change is queued for every peer. */
  start(): void {
    if (this.#unsubscribe.length > 0 || this.#channels.length === 0) return;
    this.#unsubscribe = [
      this.#registry.onChange((change) => this.#onChange(change)),
      this.#registry.onRenewal((renewal) => this.#onRenewal(renewal)),
    ];
  }

  /** Unsubscribes and stops retrying; what is still queued is dropped (peers resync on their own start). */
  stop(): void {
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const channel of this.#channels) channel.stop();
  }

  statuses(): PeerStatus[] {
    return this.#channels.map((channel) => channel.status());
  }

  /** Sends what is queued now instead of at the end of the batch delay; resolves when every peer answered or failed. */
  async flush(): Promise<void> {
    await Promise.all(this.#channels.map((channel) => channel.flushNow()));
  }

  /** Marks a peer reachable or not from outside the replication itself (the start-up sync). */
  observed(url: string, outcome: { ok: true; at: number } | { ok: false; error: string }): void {
    this.#channels.find((channel) => channel.url === url)?.observed(outcome);
  }

  #onChange(change: RegistryChange): void {
    // A change a peer sent us is that peer's to replicate; sending it on would loop between nodes.
    if (change.replicated) return;
    const item = changeItem(change);
    const expiresAt = change.at + change.lease.instance.leaseInfo.durationInSecs * 1000;
    for (const channel of this.#channels) channel.enqueue({ item, expiresAt });
  }

  #onRenewal(renewal: RegistryRenewal): void {
    if (renewal.replicated) return;
    const record = this.#registry.leaseRecord(renewal.app, renewal.id);
    if (record === undefined) return;
    const item = heartbeatItem(record);
    const expiresAt = renewal.at + record.instance.leaseInfo.durationInSecs * 1000;
    for (const channel of this.#channels) channel.enqueue({ item, expiresAt });
  }
}

/** One peer's queue, timer and state. */
class PeerChannel {
  readonly url: string;
  readonly #peer: PeerUrl;
  readonly #registry: Registry;
  readonly #http: PeerHttp;
  readonly #log: Logger;
  readonly #clock: Clock;
  /** Items per batch: the configured size, halved each time the peer answers 413 (it keeps its body limit). */
  #batchSize: number;
  readonly #batchDelayMs: number;
  readonly #maxQueued: number;
  readonly #timeoutMs: number;
  readonly #backoff: BackoffOptions;
  #queue: Pending[] = [];
  /** The queued heartbeat of each instance, updated in place by the next one instead of queuing another. */
  readonly #heartbeats = new Map<string, Pending>();
  #timer: unknown;
  #inFlight: Promise<void> | undefined;
  #failures = 0;
  #stopped = false;
  #state: PeerState = 'unknown';
  #lastContactAt: number | undefined;
  #lastError: string | undefined;
  #dropped = 0;

  constructor(peer: PeerUrl, options: ReplicatorOptions) {
    this.url = peer.url;
    this.#peer = peer;
    this.#registry = options.registry;
    this.#http = options.http;
    this.#log = options.log.child({ peer: peer.label });
    this.#clock = options.clock ?? systemClock;
    this.#batchSize = options.batchSize ?? 250;
    this.#batchDelayMs = options.batchDelayMs ?? 500;
    this.#maxQueued = options.maxQueued ?? 50_000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  status(): PeerStatus {
    return {
      url: this.#peer.label,
      state: this.#state,
      lastContactAt: this.#lastContactAt,
      lastError: this.#lastError,
      queued: this.#queue.length,
      dropped: this.#dropped,
    };
  }

  enqueue(pending: Pending): void {
    if (this.#stopped) return;
    if (pending.item.action === 'Heartbeat') {
      const key = keyOf(pending.item);
      const queued = this.#heartbeats.get(key);
      if (queued !== undefined) {
        queued.item = pending.item;
        queued.expiresAt = pending.expiresAt;
        return;
      }
      this.#heartbeats.set(key, pending);
    }
    if (this.#queue.length >= this.#maxQueued)
      this.#drop(this.#queue.splice(0, this.#queue.length - this.#maxQueued + 1));
    this.#queue.push(pending);
    this.#schedule();
  }

  observed(outcome: { ok: true; at: number } | { ok: false; error: string }): void {
    if (outcome.ok) this.#reachable(outcome.at);
    else this.#unreachable(outcome.error);
  }

  async flushNow(): Promise<void> {
    if (this.#inFlight !== undefined) await this.#inFlight;
    if (this.#queue.length === 0 || this.#stopped) return;
    this.#clearTimer();
    await this.#send();
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimer();
    this.#queue = [];
    this.#heartbeats.clear();
  }

  #schedule(): void {
    if (this.#stopped || this.#inFlight !== undefined || this.#timer !== undefined || this.#queue.length === 0) return;
    const delay =
      this.#failures > 0
        ? backoffDelay(this.#failures, this.#backoff)
        : this.#queue.length >= this.#batchSize
          ? 0
          : this.#batchDelayMs;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#send();
    }, delay);
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #send(): Promise<void> {
    const sending = this.#exchange().finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
    this.#inFlight = sending;
    return sending;
  }

  async #exchange(): Promise<void> {
    // Lease times are the registry's; its clock, not the timer clock, decides when an item is stale.
    const now = this.#registry.now();
    const live = this.#queue.filter((p) => p.expiresAt > now);
    if (live.length < this.#queue.length) this.#drop(this.#queue.filter((p) => p.expiresAt <= now));
    this.#queue = live;
    const batch = this.#queue.splice(0, this.#batchSize);
    for (const pending of batch) {
      if (pending.item.action === 'Heartbeat') this.#heartbeats.delete(keyOf(pending.item));
    }
    if (batch.length === 0) return;
    let answer;
    try {
      answer = await this.#http({
        method: 'POST',
        url: `${this.#peer.url}/peerreplication/batch`,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          [REPLICATION_HEADER]: 'true',
          ...(this.#peer.authorization === undefined ? {} : { authorization: this.#peer.authorization }),
        },
        body: renderReplicationBatch(batch.map((p) => p.item)),
        timeoutMs: this.#timeoutMs,
      });
    } catch (err) {
      this.#retry(batch, describeError(err));
      return;
    }
    if (answer.status === 413) {
      this.#reachable(this.#registry.now());
      this.#tooLarge(batch);
      return;
    }
    if (answer.status !== 200) {
      this.#retry(batch, `answered ${answer.status}`);
      return;
    }
    this.#failures = 0;
    this.#reachable(this.#registry.now());
    this.#handleAnswers(batch, answer.body);
  }

  /** Puts the batch back in front after a backoff. */
  #retry(batch: Pending[], error: string): void {
    if (this.#stopped) return;
    this.#failures++;
    this.#unreachable(error);
    this.#requeue(batch);
  }

  /**
   * The peer's body limit is below this batch (a Trellis node answers 413 over its limit; Eureka has none): the items
   * go again at once in batches half the size, for as long as this node runs. A single item still refused is
   * dropped: the peer would refuse that registration from a client too.
   */
  #tooLarge(batch: Pending[]): void {
    if (this.#stopped) return;
    if (batch.length === 1) {
      const [{ item }] = batch as [Pending];
      this.#log.warn({ action: item.action, app: item.appName, id: item.id }, 'peer refused an item as too large');
      this.#drop(batch);
      return;
    }
    this.#batchSize = Math.ceil(batch.length / 2);
    this.#log.warn({ batchSize: this.#batchSize }, 'peer refused a batch as too large; sending smaller batches');
    this.#requeue(batch);
  }

  /** Puts a batch back in front (an instance's newer heartbeat, queued meanwhile, wins over its old one). */
  #requeue(batch: Pending[]): void {
    const kept = batch.filter((pending) => {
      if (pending.item.action !== 'Heartbeat') return true;
      const key = keyOf(pending.item);
      if (this.#heartbeats.has(key)) return false;
      this.#heartbeats.set(key, pending);
      return true;
    });
    this.#queue = [...kept, ...this.#queue];
  }

  #handleAnswers(batch: readonly Pending[], body: string): void {
    const parsed = parseJsonText(body);
    const list = parsed.ok && isJsonObject(parsed.value) ? parsed.value['responseList'] : undefined;
    if (!Array.isArray(list)) {
      this.#log.warn('peer answered a replication batch without a responseList; items not checked');
      return;
    }
    batch.forEach((pending, i) => {
      const response: unknown = list[i];
      if (!isJsonObject(response)) return;
      const { item } = pending;
      const statusCode = response['statusCode'];
      if (item.action !== 'Heartbeat') {
        if (statusCode !== 200 && statusCode !== 204 && !(statusCode === 404 && item.action === 'Cancel')) {
          this.#log.info({ action: item.action, app: item.appName, id: item.id, statusCode }, 'peer refused an item');
        }
        return;
      }
      if (statusCode === 404) this.#reregister(item);
      else if (statusCode === 409) this.#takeNewer(item, response['responseEntity']);
    });
  }

  /** The peer does not know the instance (it started after the registration, or evicted it): send it whole. */
  #reregister(item: ReplicationItem): void {
    const record = this.#registry.leaseRecord(item.appName, item.id);
    if (record === undefined) return;
    this.enqueue({
      item: registerItem(record),
      expiresAt: this.#registry.now() + record.instance.leaseInfo.durationInSecs * 1000,
    });
  }

  /** The peer holds a newer copy (a later registration reached it first): take it, as a peer's change. */
  #takeNewer(item: ReplicationItem, entity: unknown): void {
    if (!isJsonObject(entity)) return;
    const instance = normalizeInstance(readJsonInstance(entity), { pathApp: item.appName, now: this.#registry.now() });
    if (!instance.ok) {
      this.#log.warn({ app: item.appName, id: item.id, reason: instance.error.message }, 'unusable 409 entity');
      return;
    }
    // The id may have passed to another application here since the heartbeat was sent: that one keeps it.
    if (takenViolation(this.#registry, instance.value) !== undefined) {
      this.#log.info({ app: item.appName, id: item.id }, 'peer copy not taken: the id is held by another application');
      return;
    }
    this.#registry.register(instance.value, { replicated: true });
  }

  #reachable(at: number): void {
    if (this.#state !== 'reachable') this.#log.info('peer reachable');
    this.#state = 'reachable';
    this.#lastContactAt = at;
    this.#lastError = undefined;
  }

  #unreachable(error: string): void {
    if (this.#state !== 'unreachable') this.#log.warn({ reason: error }, 'peer unreachable; retrying with backoff');
    this.#state = 'unreachable';
    this.#lastError = error;
  }

  #drop(items: readonly Pending[]): void {
    if (items.length === 0) return;
    for (const pending of items) {
      if (pending.item.action === 'Heartbeat') this.#heartbeats.delete(keyOf(pending.item));
    }
    this.#dropped += items.length;
    this.#log.info({ dropped: items.length }, 'gave up replicating items the peer can no longer use');
  }
}

function keyOf(item: ReplicationItem): string {
  return `${item.appName}/${item.id}`;
}

/** The registration as the peer must store it: the instance's own status plus the override held for it. */
function registerItem(record: LeaseRecord): ReplicationItem {
  const { instance } = record;
  return {
    action: 'Register',
    appName: instance.app,
    id: instance.instanceId,
    lastDirtyTimestamp: instance.lastDirtyTimestamp,
    instanceInfo: { ...instance, overriddenStatus: record.overriddenStatus },
  };
}

function heartbeatItem(record: LeaseRecord): ReplicationItem {
  const { instance } = record;
  return {
    action: 'Heartbeat',
    appName: instance.app,
    id: instance.instanceId,
    lastDirtyTimestamp: instance.lastDirtyTimestamp,
    status: effectiveStatus(instance.status, record.overriddenStatus),
    overriddenStatus: record.overriddenStatus,
  };
}

/** The replication action of a change (Eureka replicates a metadata update as a Register). */
function changeItem(change: RegistryChange): ReplicationItem {
  const { instance } = change.lease;
  const base = { appName: instance.app, id: instance.instanceId };
  switch (change.cause) {
    case 'register':
    case 'metadata':
      return registerItem(change.lease);
    case 'cancel':
    case 'eviction':
      // Each node evicts on its own in Eureka; replicating ours removes the instance everywhere at once instead of
      // after each peer's own sweep.
      return { ...base, action: 'Cancel' };
    case 'status':
      return {
        ...base,
        action: 'StatusUpdate',
        lastDirtyTimestamp: instance.lastDirtyTimestamp,
        status: change.lease.overriddenStatus,
      };
    case 'status-override-deleted':
      return {
        ...base,
        action: 'DeleteStatusOverride',
        lastDirtyTimestamp: instance.lastDirtyTimestamp,
        status: instance.status,
      };
  }
}
