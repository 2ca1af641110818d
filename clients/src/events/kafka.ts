// The Kafka binder on @platformatic/kafka, with Spring Cloud Stream's Kafka binder semantics (see kafka-wire.ts):
// destination = topic, group = group.id, Spring's partition choice and headers, retries then `error.<dest>.<group>`.
import type {
  Admin,
  Consumer as KafkaClientConsumer,
  ConsumerGroupJoinPayload,
  Message,
  MessagesStream,
  MessageToProduce,
  Producer as KafkaClientProducer,
} from '@platformatic/kafka';
import type * as KafkaClientModule from '@platformatic/kafka';
import { currentObservability, type Health, type Logger, type Observability } from '@trellis/kit';
import { backoffDelay } from '../http/timing.ts';
import { EventsError } from './errors.ts';
import type { EventInspector } from './inspect.ts';
import { createKafkaInspector } from './inspect-kafka.ts';
import { ASSIGNOR, encodeSlot, ownsPartition, partitionAssigner, type InstanceSlot } from './kafka-assignor.ts';
import { KafkaDeadLetters } from './kafka-dead-letters.ts';
import { PartitionLanes } from './kafka-lanes.ts';
import {
  anonymousGroupId,
  CONTENT_TYPE,
  deadLetterHeaders,
  deadLetterTopic,
  encodeHeaders,
  HeaderDecoder,
  readMarks,
  recordId,
  type RecordMarks,
  type WireHeaders,
} from './kafka-wire.ts';
import { checkName } from './naming.ts';
import {
  BinderObservation,
  kafkaGetter,
  kafkaSetter,
  type ConsumerObserver,
  type ProducerObserver,
  type TraceWriter,
} from './observe.ts';
import {
  encodePayload,
  resolveConsumer,
  resolveProducer,
  route,
  runHandler,
  type Inbound,
  type Outcome,
  type ResolvedConsumer,
  type ResolvedProducer,
  type Route,
} from './processing.ts';
import type {
  Consumer,
  ConsumerOptions,
  DeadLetterQueue,
  EventBinder,
  HeaderValue,
  Producer,
  ProducerOptions,
  SendOptions,
} from './types.ts';

type KafkaClient = typeof KafkaClientModule;
type Record_ = Message<Buffer, Buffer, Buffer, Buffer>;

export interface KafkaBinderOptions {
  /** `kafka://host:port[,host:port…]`, or the bootstrap brokers as `host:port` strings. */
  readonly brokers: string | readonly string[];
  readonly logger?: Logger;
  /** How long `send` keeps trying while the broker is away before rejecting with `broker_unavailable`. Default 30 s. */
  readonly publishTimeoutMs?: number;
  /** Create missing topics (Spring's `autoCreateTopics`). Default true. */
  readonly autoCreateTopics?: boolean;
  /** Add partitions to a topic with fewer than a producer or consumer needs (`autoAddPartitions`). Default false. */
  readonly autoAddPartitions?: boolean;
  /** The fewest partitions a topic is created with (`minPartitionCount`). Default 1. */
  readonly minPartitionCount?: number;
  /** Replicas of a created topic; -1 takes the broker's `default.replication.factor`. Default -1. */
  readonly replicationFactor?: number;
  /** The client id the broker logs and quotas see. Default `trellis-events`. */
  readonly clientId?: string;
  /** Meters and tracer to record into. Default: the scope's (`currentObservability()`) when the binder is made. */
  readonly observability?: Observability;
}

type Log = Pick<Logger, 'warn' | 'error' | 'info'>;

/**
 * `kafka://host:port,host:port` → `['host:port', 'host:port']` (port 9092 when left out).
 *
 * @example
 * parseKafkaUrl('kafka://localhost:9092'); // ['localhost:9092']
 */
export function parseKafkaUrl(url: string): string[] {
  const match = /^kafka:\/\/([^/?#]+)\/?$/.exec(url.trim());
  if (match === null) {
    throw new EventsError('invalid_options', 'the Kafka broker URL must look like kafka://host:port[,host:port]');
  }
  return (match[1] ?? '').split(',').map(checkBroker);
}

function checkBroker(broker: string): string {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(broker.trim());
  const port = Number(m?.[2] ?? '9092');
  if (m === null || port < 1 || port > 65_535) {
    throw new EventsError('invalid_options', `invalid Kafka broker ${JSON.stringify(broker)}: use host:port`);
  }
  return `${m[1] ?? ''}:${port}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One record waiting in the send batch, with the promise its sender awaits. */
interface Pending {
  readonly message: MessageToProduce<Buffer, Buffer, Buffer, Buffer>;
  readonly deadline: number;
  resolve(): void;
  reject(err: unknown): void;
  /** Rejected for its deadline; a request still carrying it may yet write it (the sender then sends it again). */
  expired?: boolean;
}

/** How late past its deadline a waiting send may be rejected: expiries are checked together, not one timer each. */
const EXPIRY_SLACK_MS = 100;

/**
 * Gathers records sent while a produce request is in flight into the next one: a lone send goes out at once, a burst
 * goes out in batches (as Kafka's Java producer batches per partition), and every sender learns its own outcome.
 * The idempotent client retries a request for as long as the broker is away (so the broker can drop a batch it
 * already wrote), so a request may never end: senders are rejected at their deadline by a timer, whether their
 * record waits here or rides in that request (Java's delivery.timeout.ms).
 */
class SendBatcher {
  readonly #binder: KafkaBinder;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #inFlight: Pending[] = [];
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  #timedOut = false;

  constructor(binder: KafkaBinder, maxBatch = 2000) {
    this.#binder = binder;
    this.#maxBatch = maxBatch;
  }

  get pending(): number {
    return this.#queue.length + this.#inFlight.filter((p) => p.expired !== true).length;
  }

  send(message: Pending['message'], timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, deadline: Date.now() + timeoutMs, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        // After the current tick, so a loop of sends started together goes out as one request.
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    let attempt = 0;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      this.#inFlight = batch;
      this.#arm();
      try {
        await this.#binder.produce(batch.map((p) => p.message));
        for (const p of batch) p.resolve();
        attempt = 0;
        this.#timedOut = false;
      } catch (err) {
        attempt++;
        this.#inFlight = [];
        const live = batch.filter((p) => p.expired !== true);
        if (this.#binder.retriable(err)) {
          if (attempt === 1) this.#binder.log.warn({ error: describe(err) }, 'Kafka send failed; retrying');
          // Back at the head of the line, in their order, for the next request (unless their time is up).
          this.#queue.unshift(...live);
          this.#expire(err);
        } else {
          for (const p of live) p.reject(this.#binder.sendError(err));
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, { initialDelayMs: 100, maxDelayMs: 2000 })));
      }
    }
    this.#inFlight = [];
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = false;
  }

  /** Keeps a timer on the earliest deadline still waiting (deadlines grow in send order, so it is the first one). */
  #arm(): void {
    if (this.#timer !== undefined) return;
    const first = this.#inFlight.find((p) => p.expired !== true) ?? this.#queue[0];
    if (first === undefined) return;
    const wait = Math.max(first.deadline - Date.now(), 0) + EXPIRY_SLACK_MS;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#expire(undefined);
      this.#arm();
    }, wait);
  }

  /** Rejects every sender whose deadline has passed, waiting or in flight; `cause` is the last failure, if any. */
  #expire(cause: unknown): void {
    const now = Date.now();
    const expired: Pending[] = [];
    for (const p of this.#inFlight) if (p.expired !== true && p.deadline <= now) expired.push(p);
    const waiting = this.#queue.findIndex((p) => p.deadline > now);
    expired.push(...this.#queue.splice(0, waiting === -1 ? this.#queue.length : waiting));
    if (expired.length === 0) return;
    const why = cause === undefined ? 'no answer' : describe(cause);
    const error = new EventsError('broker_unavailable', `no Kafka broker took the record in time (${why})`, { cause });
    for (const p of expired) {
      p.expired = true;
      p.reject(error);
    }
    if (!this.#timedOut) {
      this.#timedOut = true;
      this.#binder.log.warn({ expired: expired.length, error: why }, 'Kafka sends timed out waiting for the broker');
    }
  }
}

/** A record as the shared handler loop sees it; its headers are decoded on first read, as most handlers never look. */
class KafkaInbound implements Inbound {
  readonly body: Buffer;
  readonly redelivered = false;
  readonly partition: number | undefined;
  readonly #record: Record_;
  readonly #marks: RecordMarks;
  readonly #decoder: HeaderDecoder;
  #headers: Record<string, unknown> | undefined;

  constructor(record: Record_, marks: RecordMarks, decoder: HeaderDecoder) {
    this.#record = record;
    this.#marks = marks;
    this.#decoder = decoder;
    this.body = record.value ?? Buffer.alloc(0);
    this.partition = marks.partition;
  }

  get deliveryId(): string {
    const r = this.#record;
    return this.#marks.deliveryId ?? recordId(r.topic, r.partition, r.offset);
  }

  get headers(): Record<string, unknown> {
    return (this.#headers ??= this.#decoder.decode(this.#record.headers));
  }
}

/** Spring's ackMode BATCH is close to this: commit after each record is done, coalesced by the client. */
class KafkaConsumer<T> implements Consumer {
  readonly queue: string;
  readonly #c: ResolvedConsumer<T>;
  readonly #binder: KafkaBinder;
  readonly #groupId: string;
  readonly #slot: InstanceSlot | undefined;
  readonly #lanes: PartitionLanes<Record_>;
  readonly #abort = new AbortController();
  readonly #decoder = new HeaderDecoder();
  readonly #observer: ConsumerObserver | undefined;
  /** Per partition, the offset of the last record taken in: a refetch after a rebalance repeats older ones. */
  readonly #taken = new Map<number, bigint>();
  readonly #highWater: number;
  #client: KafkaClientConsumer | undefined;
  #stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  /** The last done record of each partition, not committed yet. */
  readonly #done = new Map<number, Record_>();
  #flushing: Promise<void> | undefined;
  #paused = false;
  #closed = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /** The failed client being taken out of the group; the next one opens after it. */
  #retiring: Promise<void> | undefined;
  /**
   * The group member id of the client given up on. A client closed while the broker is away cannot leave the group,
   * so the coordinator keeps that member until its session times out (45 s) and holds the group's next rebalance
   * for it: the new client rejoins as that member instead, as a Java consumer keeps its id across a broker restart.
   * Only a client known to be closed hands its id on: two live clients under one id would join for each other.
   */
  #memberId: string | null = null;

  constructor(binder: KafkaBinder, c: ResolvedConsumer<T>) {
    this.#binder = binder;
    this.#c = c;
    this.#groupId = c.group ?? anonymousGroupId();
    this.queue = this.#groupId;
    this.#slot =
      c.instanceIndex === undefined || c.instanceCount === undefined
        ? undefined
        : { instanceIndex: c.instanceIndex, instanceCount: c.instanceCount };
    this.#lanes = new PartitionLanes(c.concurrency, (record) => this.#handle(record));
    // Kafka fetches in batches: a prefetch of one would stall the consumer after every record.
    this.#highWater = Math.max(c.prefetch, 10_000);
    this.#observer = binder.observation.consumer(c.destination, c.group);
  }

  get #dlq(): string | undefined {
    return this.#c.group !== undefined && this.#c.deadLetter
      ? deadLetterTopic(this.#c.destination, this.#c.group)
      : undefined;
  }

  /** Provisions the topic (and the group's DLQ topic), joins the group and waits until the start offsets are known. */
  async start(): Promise<void> {
    const partitions = await this.#binder.ensureTopic(this.#c.destination, this.#c.instanceCount ?? 1);
    const dlq = this.#dlq;
    if (dlq !== undefined) await this.#binder.ensureTopic(dlq, partitions);
    await this.#open();
  }

  async #open(): Promise<void> {
    const client = this.#binder.newConsumer(this.#groupId, encodeSlot(this.#slot));
    // An id the coordinator no longer knows is answered UNKNOWN_MEMBER_ID, and the client then joins afresh.
    if (this.#memberId !== null) client.memberId = this.#memberId;
    this.#client = client;
    // Only the current client speaks for the lanes: a retired one's late rebalance must not hold or drop them.
    const current = (): boolean => this.#client === client;
    client.on('consumer:group:rebalance', () => {
      if (current()) this.#lanes.hold();
    });
    client.on('consumer:group:join', (payload: ConsumerGroupJoinPayload) => {
      if (current()) this.#assigned(payload);
    });
    // A rejoin that fails for good is emitted as the client's 'error' (unheard, it would crash the process), and
    // 'stalled' says no heartbeat has gone through for a rebalance timeout: either way the client is out of the group.
    client.on('error', (err: Error) => {
      if (current()) this.#failed(err);
    });
    client.on('consumer:heartbeat:stalled', () => {
      if (current()) this.#failed(new Error('the group heartbeat stalled'));
    });
    const stream = await client.consume({
      topics: [this.#c.destination],
      // Spring: a group starts at the earliest offset it has not committed; an anonymous one at the latest.
      mode: this.#c.group === undefined ? 'latest' : 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    this.#stream = stream;
    const positioned = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      stream.once('offsets', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    stream.on('data', (record: Record_) => {
      if (current()) this.#accept(record);
    });
    stream.on('error', (err: Error) => {
      if (current()) this.#failed(err);
    });
    await positioned;
  }

  /**
   * A rebalance ended. While it ran the lanes were held (like Java's poll loop, which handles nothing between
   * revocation and assignment); the records of partitions taken away belong to their next owner now.
   */
  #assigned(payload: ConsumerGroupJoinPayload): void {
    const mine = new Set(
      (payload.assignments ?? []).filter((a) => a.topic === this.#c.destination).flatMap((a) => a.partitions),
    );
    for (const partition of [...this.#taken.keys()]) {
      if (mine.has(partition)) continue;
      this.#lanes.drop(partition);
      this.#taken.delete(partition);
    }
    this.#lanes.release();
  }

  #accept(record: Record_): void {
    const { partition, offset } = record;
    // Spring's partitioned consumer listens to its own partitions only; Kafka hands a lone member all of them.
    if (this.#slot !== undefined && !ownsPartition(this.#slot, partition)) return;
    const taken = this.#taken.get(partition);
    if (taken !== undefined && offset <= taken) return;
    this.#taken.set(partition, offset);
    this.#lanes.push(partition, record);
    if (!this.#paused && this.#lanes.size >= this.#highWater) {
      this.#paused = true;
      this.#stream?.pause();
    }
  }

  /** Handles one record; stays synchronous (no promise) when the handler does, which keeps up with the fetches. */
  #handle(record: Record_): void | Promise<void> {
    const marks = readMarks(record.headers);
    // A dead letter replayed for another group: that group's copy, not ours.
    if (marks.replayGroup !== undefined && marks.replayGroup !== this.#c.group) {
      this.#settled(record);
      return;
    }
    const inbound = new KafkaInbound(record, marks, this.#decoder);
    const observer = this.#observer;
    // The trace headers are read from the raw record, as Spring's receiver does: the handler's headers stay lazy.
    const outcome =
      observer === undefined
        ? runHandler(this.#c, inbound, this.#abort.signal)
        : observer.run(record.headers, kafkaGetter, () => runHandler(this.#c, inbound, this.#abort.signal));
    return outcome instanceof Promise ? outcome.then((o) => this.#settle(record, o)) : this.#settle(record, outcome);
  }

  #settle(record: Record_, outcome: Outcome): void | Promise<void> {
    switch (outcome.kind) {
      case 'done':
        this.#settled(record);
        return;
      case 'abandoned':
        // Not committed: whoever owns the partition next reads it again.
        return;
      case 'dead':
        return this.#settleDead(record, outcome);
    }
  }

  async #settleDead(record: Record_, outcome: Extract<Outcome, { kind: 'dead' }>): Promise<void> {
    const dlq = this.#dlq;
    if (dlq === undefined) {
      this.#binder.log.error(
        { topic: record.topic, partition: record.partition, group: this.#groupId, reason: outcome.reason },
        'message failed; dropped (no DLQ)',
      );
    } else if (await this.#deadLetter(dlq, record, outcome)) {
      this.#observer?.deadLettered();
    } else {
      return;
    }
    this.#settled(record);
  }

  /** The record is done with: commit it, and take in more once the backlog has halved. */
  #settled(record: Record_): void {
    this.#commit(record);
    if (this.#paused && this.#lanes.size < this.#highWater / 2) {
      this.#paused = false;
      this.#stream?.resume();
    }
  }

  /** Sends the record to the DLQ topic, retrying while the broker is away; false when the consumer closed first. */
  async #deadLetter(dlq: string, record: Record_, outcome: Extract<Outcome, { kind: 'dead' }>): Promise<boolean> {
    const message = {
      topic: dlq,
      partition: record.partition,
      ...(record.key === undefined || record.key === null ? {} : { key: record.key }),
      value: record.value ?? Buffer.alloc(0),
      headers: deadLetterHeaders(record.headers, record, {
        errorClass: outcome.errorClass,
        reason: outcome.reason.slice(0, 4000),
        stacktrace: outcome.stacktrace.slice(0, 16_000),
      }),
    };
    for (let attempt = 1; !this.#closed; attempt++) {
      try {
        await this.#binder.send(message);
        this.#binder.log.warn(
          {
            topic: record.topic,
            partition: record.partition,
            offset: String(record.offset),
            dlq,
            reason: outcome.reason,
          },
          'message moved to the dead-letter topic',
        );
        return true;
      } catch (err) {
        this.#binder.log.warn({ err, dlq }, 'could not dead-letter a message; retrying');
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, { initialDelayMs: 500, maxDelayMs: 10_000 })));
      }
    }
    return false;
  }

  /**
   * Marks a record done. Commits go out once per turn of the event loop with the last done record of each partition
   * (Spring's ackMode BATCH does the same per poll): one request for a burst instead of one per record.
   */
  #commit(record: Record_): void {
    // Finished after its client was retired: the next client reads it again from the committed offset.
    if (this.#client === undefined) return;
    this.#done.set(record.partition, record);
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flushCommits());
  }

  async #flushCommits(): Promise<void> {
    const records = [...this.#done.values()];
    this.#done.clear();
    this.#flushing = undefined;
    // The client keeps commits per partition monotonic; a lost commit means a redelivery, never a loss.
    await Promise.all(
      records.map(async (record) => {
        try {
          await record.commit();
        } catch (err) {
          this.#binder.log.warn(
            { error: describe(err), group: this.#groupId },
            'offset commit failed; records may repeat',
          );
        }
      }),
    );
  }

  /** The connection broke beyond the client's own retries: start over from the committed offsets. */
  #failed(err: Error): void {
    if (this.#closed || this.#restartTimer !== undefined) return;
    this.#restarts++;
    const delay = backoffDelay(this.#restarts, { initialDelayMs: 500, maxDelayMs: 10_000 });
    this.#binder.log.warn(
      { error: describe(err), group: this.#groupId, delayMs: delay },
      'Kafka consumer failed; restarting',
    );
    // Retired now, not after the backoff: a failed stream has given up its topics but its client stays a member,
    // and a heartbeat or a commit makes it rejoin subscribed to nothing, under the member id the next client takes.
    const retiring = this.#retire();
    this.#retiring = retiring;
    this.#restartTimer = setTimeout(() => void this.#restart(retiring), delay);
  }

  async #restart(retiring: Promise<void>): Promise<void> {
    await retiring;
    this.#restartTimer = undefined;
    if (this.#closed) return;
    try {
      await this.#open();
      this.#restarts = 0;
    } catch (err) {
      this.#failed(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * Takes the client out of the group and waits for the records in hand. Offsets not committed yet are dropped (the
   * next owner reads those records again): the retired client's commit would make it rejoin the group first.
   */
  async #retire(): Promise<void> {
    const client = this.#client;
    this.#memberId = client?.memberId ?? this.#memberId;
    this.#stream = undefined;
    this.#client = undefined;
    this.#lanes.clear();
    this.#done.clear();
    // Forced: its streams are closed with it.
    if (client !== undefined && !(await settlesWithin(client.close(true), RETIRE_TIMEOUT_MS))) {
      this.#memberId = null;
      this.#binder.log.warn({ group: this.#groupId }, 'Kafka consumer could not leave its group; rejoining afresh');
    }
    await this.#lanes.idle();
    this.#taken.clear();
    this.#paused = false;
  }

  /** Whether a client is in the group (false while one restarts). */
  get running(): boolean {
    return this.#client !== undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    this.#stream?.pause();
    this.#abort.abort();
    await this.#retiring;
    // The records in hand finish and their offsets are committed before the client leaves the group.
    this.#lanes.clear();
    await this.#lanes.idle();
    await settlesWithin(this.#flushing ?? Promise.resolve(), RETIRE_TIMEOUT_MS);
    await this.#retire();
    this.#binder.forget(this);
  }
}

/** How long a client's last commits and its leaving the group may take before the consumer goes on without them. */
const RETIRE_TIMEOUT_MS = 10_000;

/** True when the promise fulfils within the time; false when it rejects or is still pending then. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What Spring's StreamBridge writes (recorded from a real app): contentType, and the headers' Java types. Spring's
 * function bindings add `target-protocol: kafka` too, which no consumer needs; every header costs every record.
 */
const SPRING_HEADERS = { [CONTENT_TYPE]: 'application/json' } as const;
/** How long added partitions may take to show in the broker's metadata before provisioning gives up. */
const PARTITIONS_VISIBLE_MS = 10_000;

function isEmpty(headers: Readonly<Record<string, HeaderValue>> | undefined): boolean {
  for (const _ in headers) return false;
  return true;
}

/** The record's headers with this send's trace headers added: a copy, as the untraced header sets are shared. */
function traced(headers: WireHeaders, writeTrace: TraceWriter | undefined): WireHeaders {
  if (writeTrace === undefined) return headers;
  const own: WireHeaders = new Map(headers);
  writeTrace(own, kafkaSetter);
  return own;
}

/** Sends a destination's events as Spring's partitioned producer writes them; header sets are encoded once. */
class KafkaProducer<T> implements Producer<T> {
  readonly destination: string;
  readonly #binder: KafkaBinder;
  readonly #p: ResolvedProducer<T>;
  readonly #plain = encodeHeaders(SPRING_HEADERS);
  readonly #byPartition = new Map<number, WireHeaders>();
  readonly #observer: ProducerObserver | undefined;
  readonly #deliver = (message: Pending['message']): Promise<void> => this.#binder.send(message);

  constructor(binder: KafkaBinder, p: ResolvedProducer<T>) {
    this.#binder = binder;
    this.#p = p;
    this.destination = p.destination;
    this.#observer = binder.observation.producer(p.destination);
  }

  send(payload: T, options: SendOptions = {}): Promise<void> {
    const observer = this.#observer;
    if (observer !== undefined) {
      return observer.send((writeTrace) => this.#record(payload, options.headers, writeTrace), this.#deliver);
    }
    try {
      return this.#binder.send(this.#record(payload, options.headers, undefined));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #record(
    payload: T,
    custom: Readonly<Record<string, HeaderValue>> | undefined,
    writeTrace: TraceWriter | undefined,
  ): Pending['message'] {
    const topic = this.destination;
    const value = encodePayload(payload);
    const plain = isEmpty(custom);
    if (this.#p.partitionKey === undefined && plain) {
      return { topic, value, headers: traced(this.#plain, writeTrace) };
    }
    const r = route(this.#p, payload, custom ?? {});
    const shared = plain ? this.#partitionHeaders(r) : encodeHeaders({ ...SPRING_HEADERS, ...r.headers });
    const headers = traced(shared, writeTrace);
    // Spring writes a partitioned record to its partition, with no key.
    return r.partition === undefined ? { topic, value, headers } : { topic, value, partition: r.partition, headers };
  }

  #partitionHeaders(r: Route): WireHeaders {
    if (r.partition === undefined) return this.#plain;
    let headers = this.#byPartition.get(r.partition);
    if (headers === undefined) {
      headers = encodeHeaders({ ...SPRING_HEADERS, ...r.headers });
      this.#byPartition.set(r.partition, headers);
    }
    return headers;
  }
}

class KafkaBinder implements EventBinder {
  readonly kind = 'kafka';
  readonly log: Log;
  readonly inspect: EventInspector = createKafkaInspector(this);
  readonly observation: BinderObservation;
  readonly #lib: KafkaClient;
  readonly #brokers: readonly string[];
  readonly #clientId: string;
  readonly #publishTimeoutMs: number;
  readonly #autoCreateTopics: boolean;
  readonly #autoAddPartitions: boolean;
  readonly #minPartitionCount: number;
  readonly #replicationFactor: number;
  readonly #producer: KafkaClientProducer<Buffer, Buffer, Buffer, Buffer>;
  readonly #admin: Admin;
  readonly #batcher: SendBatcher;
  readonly #topics = new Map<string, Promise<number>>();
  readonly #consumers = new Set<KafkaConsumer<unknown>>();
  /** Round robin over partitions for records without a key, per topic. */
  readonly #roundRobin = new Map<string, number>();
  #closed = false;

  constructor(lib: KafkaClient, brokers: readonly string[], options: KafkaBinderOptions) {
    this.#lib = lib;
    this.#brokers = brokers;
    this.#clientId = options.clientId ?? 'trellis-events';
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 30_000;
    this.#autoCreateTopics = options.autoCreateTopics ?? true;
    this.#autoAddPartitions = options.autoAddPartitions ?? false;
    this.#minPartitionCount = options.minPartitionCount ?? 1;
    this.#replicationFactor = options.replicationFactor ?? -1;
    this.observation = new BinderObservation('kafka', options.observability ?? currentObservability());
    const noop = (): void => undefined;
    this.log = options.logger ?? { warn: noop, error: noop, info: noop };
    const base = { clientId: this.#clientId, bootstrapBrokers: [...brokers] };
    this.#producer = new lib.Producer({
      ...base,
      idempotent: true,
      acks: lib.ProduceAcks.ALL,
      partitioner: (message, key) => this.#partition(message, key),
    });
    this.#admin = new lib.Admin(base);
    this.#batcher = new SendBatcher(this);
  }

  /**
   * Keyed records as Java's producer places them (its compatibilityPartitioner: murmur2 masked to 31 bits); records
   * without a key in turn over the partitions (the compatibility partitioner alone would put them all in 0).
   */
  #partition(message: Pending['message'], key: Buffer | undefined): number {
    if (key !== undefined) return this.#lib.compatibilityPartitioner(message, key);
    const n = this.#roundRobin.get(message.topic) ?? 0;
    this.#roundRobin.set(message.topic, (n + 1) % 0x7fffffff);
    return n;
  }

  newConsumer(groupId: string, slot: Buffer | undefined): KafkaClientConsumer {
    return new this.#lib.Consumer({
      clientId: this.#clientId,
      bootstrapBrokers: [...this.#brokers],
      groupId,
      autocommit: false,
      // kafka-clients' defaults, so a Trellis member and a Spring member behave alike in one group.
      sessionTimeout: 45_000,
      heartbeatInterval: 3000,
      rebalanceTimeout: 60_000,
      maxWaitTime: 500,
      protocols: [{ name: ASSIGNOR, version: 1, ...(slot === undefined ? {} : { metadata: slot }) }],
      partitionAssigner,
    });
  }

  /**
   * Makes sure the topic exists with at least `wanted` partitions (and the binder's minimum), as Spring's
   * provisioner does, and answers how many it has.
   */
  async ensureTopic(topic: string, wanted: number): Promise<number> {
    const want = Math.max(wanted, this.#minPartitionCount);
    const known = this.#topics.get(topic);
    if (known !== undefined) {
      const count = await known.catch(() => 0);
      if (count >= want) return count;
    }
    const ensured = this.#provision(topic, want);
    this.#topics.set(topic, ensured);
    ensured.catch(() => this.#topics.delete(topic));
    return await ensured;
  }

  async #provision(topic: string, want: number): Promise<number> {
    let count = await this.partitionCount(topic);
    if (count === undefined) {
      if (!this.#autoCreateTopics) {
        throw new EventsError('invalid_options', `topic ${topic} does not exist and autoCreateTopics is off`);
      }
      try {
        await this.#admin.createTopics({ topics: [topic], partitions: want, replicas: this.#replicationFactor });
      } catch (err) {
        // Another instance may have created it meanwhile, which is as good.
        if ((await this.partitionCount(topic)) === undefined) throw this.#unavailable(`create topic ${topic}`, err);
      }
      count = (await this.partitionCount(topic)) ?? want;
    }
    if (count < want) {
      if (this.#autoAddPartitions) {
        await this.#admin.createPartitions({ topics: [{ name: topic, count: want }] });
        this.log.info({ topic, from: count, to: want }, 'added partitions to a topic');
        return await this.#untilPartitions(topic, want);
      }
      this.log.warn({ topic, partitions: count, wanted: want }, 'topic has fewer partitions than wanted');
    }
    return count;
  }

  /**
   * Waits until the broker's metadata shows the partitions just added: the controller accepts them before every
   * broker knows, and a send to a partition not yet known fails (Spring's provisioner waits the same way).
   */
  async #untilPartitions(topic: string, want: number): Promise<number> {
    const deadline = Date.now() + PARTITIONS_VISIBLE_MS;
    for (;;) {
      const count = (await this.partitionCount(topic)) ?? 0;
      if (count >= want) return count;
      if (Date.now() > deadline) {
        throw new EventsError(
          'broker_unavailable',
          `topic ${topic} still shows ${count} partitions ${PARTITIONS_VISIBLE_MS} ms after adding up to ${want}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The topic's partition count, or undefined when it does not exist. */
  async partitionCount(topic: string): Promise<number | undefined> {
    try {
      // Listing first: asking the metadata of a missing topic makes the client retry for seconds.
      if (!(await this.#admin.listTopics()).includes(topic)) return undefined;
      const metadata = await this.#admin.metadata({ topics: [topic], forceUpdate: true });
      return metadata.topics.get(topic)?.partitionsCount;
    } catch (err) {
      throw this.#unavailable(`read topic ${topic}`, err);
    }
  }

  #unavailable(what: string, err: unknown): EventsError {
    if (err instanceof EventsError) return err;
    return new EventsError('broker_unavailable', `could not ${what} on Kafka: ${describe(err)}`, { cause: err });
  }

  get admin(): Admin {
    return this.#admin;
  }

  /** A consumer client outside any group's work, for reading topics by offset (dead letters). */
  reader(): KafkaClientConsumer {
    return new this.#lib.Consumer({
      clientId: this.#clientId,
      bootstrapBrokers: [...this.#brokers],
      groupId: `trellis-reader-${process.pid}`,
      autocommit: false,
    });
  }

  /** Sends one record through the batcher; rejects once the publish timeout has passed without the broker. */
  send(message: Pending['message']): Promise<void> {
    if (this.#closed) return Promise.reject(new EventsError('closed', 'the event binder is closed'));
    return this.#batcher.send(message, this.#publishTimeoutMs);
  }

  async produce(messages: Pending['message'][]): Promise<void> {
    await this.#producer.send({ messages });
  }

  /** Whether a failed send may pass by itself (a broker away, a leader moving), so it is worth sending again. */
  retriable(err: unknown): boolean {
    if (this.#closed || !(err instanceof Error)) return false;
    const find = (property: string, value: unknown): boolean => this.#lib.findErrorBy(err, property, value) !== null;
    if (find('code', 'PLT_KFK_USER')) return false;
    return find('code', 'PLT_KFK_NETWORK') || find('code', 'PLT_KFK_TIMEOUT') || find('canRetry', true);
  }

  sendError(err: unknown): EventsError {
    if (this.#closed) return new EventsError('closed', 'the event binder is closed');
    return new EventsError('publish_rejected', `Kafka refused the record: ${describe(err)}`, { cause: err });
  }

  async producer<T>(options: ProducerOptions<T>): Promise<Producer<T>> {
    if (this.#closed) throw new EventsError('closed', 'the event binder is closed');
    const p = resolveProducer(options);
    const actual = await this.ensureTopic(p.destination, p.partitionCount);
    // Spring uses the topic's partition count when it has more than the producer's partitionCount.
    const partitioned = p.partitionKey === undefined ? p : { ...p, partitionCount: Math.max(p.partitionCount, actual) };
    return new KafkaProducer(this, partitioned);
  }

  async consume<T>(options: ConsumerOptions<T>): Promise<Consumer> {
    if (this.#closed) throw new EventsError('closed', 'the event binder is closed');
    const consumer = new KafkaConsumer(this, resolveConsumer(options));
    this.#consumers.add(consumer as KafkaConsumer<unknown>);
    try {
      await consumer.start();
    } catch (err) {
      await consumer.close();
      throw err instanceof EventsError
        ? err
        : new EventsError('broker_unavailable', `could not start consuming ${options.destination}: ${describe(err)}`, {
            cause: err,
          });
    }
    return consumer;
  }

  forget(consumer: KafkaConsumer<never>): void {
    this.#consumers.delete(consumer as KafkaConsumer<unknown>);
  }

  deadLetters(destination: string, group: string): DeadLetterQueue {
    return new KafkaDeadLetters(this, checkName('destination', destination), checkName('group', group));
  }

  readonly health = async (): Promise<Health> => {
    const details = { binder: 'kafka', brokers: this.#brokers.join(',') };
    if (this.#closed) return { status: 'DOWN', details: { ...details, reason: 'binder closed' } };
    try {
      const metadata = await Promise.race([
        this.#admin.metadata({ topics: [], forceUpdate: true }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 3 s')), 3000).unref()),
      ]);
      const cluster = { ...details, clusterId: metadata.id, nodes: metadata.brokers.size };
      // As Spring's binder health counts a stopped listener container: a broker that answers is not enough.
      const restarting = [...this.#consumers].filter((c) => !c.running).map((c) => c.queue);
      if (restarting.length > 0) {
        return { status: 'DOWN', details: { ...cluster, reason: 'a consumer is rejoining its group', restarting } };
      }
      return { status: 'UP', details: cluster };
    } catch (err) {
      return {
        status: 'DOWN',
        details: {
          ...details,
          reason: `no broker answers (${describe(err)})`,
          pendingPublishes: this.#batcher.pending,
        },
      };
    }
  };

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#consumers].map((c) => c.close()));
    this.#closed = true;
    await Promise.allSettled([this.#producer.close(), this.#admin.close()]);
  }
}

/**
 * Connects to Kafka and returns a binder with Spring Cloud Stream's Kafka binder semantics: a destination is a topic,
 * a group a consumer group, partitioned producers choose `abs(hashCode) % partitionCount` and say so in
 * `scst_partition`, failures retry with backoff and then go to `error.<destination>.<group>`. @platformatic/kafka is
 * loaded here, so a service on another binder never loads it.
 *
 * @example
 * const binder = await createKafkaBinder({ brokers: 'kafka://localhost:9092', logger });
 * const products = await binder.producer<ProductEvent>({
 *   destination: 'products', partitionKey: (e) => e.key, partitionCount: 2,
 * });
 * await products.send({ eventType: 'CREATE', key: 1, data: product });
 */
export async function createKafkaBinder(options: KafkaBinderOptions): Promise<EventBinder> {
  const brokers =
    typeof options.brokers === 'string' ? parseKafkaUrl(options.brokers) : options.brokers.map(checkBroker);
  if (brokers.length === 0) throw new EventsError('invalid_options', 'no Kafka brokers given');
  // The scope's observability is taken before the import, at the caller's call.
  const observability = options.observability ?? currentObservability();
  const lib = await import('@platformatic/kafka');
  return new KafkaBinder(lib, brokers, { ...options, observability });
}
