// Inspection of a binder's destinations (what Kafka's topic, consumer-group and console-consumer tools answer): the
// shapes every binder reports in, the tail options' checks, and the feed a tail's messages arrive through.
import { EventsError } from './errors.ts';
import { checkName, PARTITION_HEADER } from './naming.ts';

/** A destination as listed: a Kafka topic, a RabbitMQ topic exchange, an embedded destination. */
export interface TopicSummary {
  readonly name: string;
  /** How many partitions it has, when the binder can tell (on RabbitMQ: the most partition queues of a group). */
  readonly partitions: number | undefined;
}

/** Where one consumer group stands on one partition of a destination. */
export interface GroupPartition {
  /** The partition, or undefined when the group reads the destination unpartitioned (one queue). */
  readonly partition: number | undefined;
  /** The queue the group reads it from (RabbitMQ and embedded); undefined on Kafka. */
  readonly queue?: string;
  /**
   * Messages the group has not consumed yet: on Kafka the end offset minus the committed offset; on RabbitMQ the
   * messages ready in the queue (those delivered but not yet acknowledged are not counted); embedded, every message
   * in the queue (`inFlight` of them being handled). Undefined when unknown (a Kafka group with no commit).
   */
  readonly lag: number | undefined;
  /** Kafka: the group's committed offset of the partition. */
  readonly committedOffset?: number;
  /** Kafka: the partition's end offset. */
  readonly endOffset?: number;
  /** Consumers reading it now: RabbitMQ's consumer count; Kafka's members assigned the partition. */
  readonly consumers?: number;
  /** Embedded: messages a consumer has claimed and not yet settled. */
  readonly inFlight?: number;
}

export interface GroupDescription {
  readonly group: string;
  readonly partitions: readonly GroupPartition[];
  /** Messages in the group's dead-letter queue (or Kafka's `error.<destination>.<group>`), when it has one. */
  readonly deadLetters: number | undefined;
}

/** A partition of a destination, with what the binder retains of it. */
export interface PartitionDescription {
  readonly partition: number;
  /** Kafka: the earliest offset kept. */
  readonly startOffset?: number;
  /** Kafka: the offset the next message gets. */
  readonly endOffset?: number;
  /** Messages retained (a `tail --from-beginning` prints them); undefined where nothing is retained (RabbitMQ). */
  readonly messages?: number;
}

export interface TopicDescription {
  readonly name: string;
  readonly partitions: readonly PartitionDescription[];
  readonly groups: readonly GroupDescription[];
}

/** Names to check where a broker cannot list them (RabbitMQ over AMQP); binders that can list ignore them. */
export interface InspectHints {
  readonly destinations?: readonly string[];
  readonly groups?: readonly string[];
}

export interface TailOptions {
  /** Every message the binder retains, then new ones. Not on RabbitMQ, which keeps no consumed message. */
  readonly fromBeginning?: boolean;
  /** Only this partition's messages. */
  readonly partition?: number;
  /** Start with the messages this group has not consumed yet (without consuming them), then new ones. */
  readonly group?: string;
  /** Stop once no message came for this long (the console consumer's `--timeout-ms`); else run until aborted. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** One message a tail saw. */
export interface TailedMessage {
  readonly partition: number | undefined;
  /** Kafka: the record's offset; embedded: its log sequence; undefined on RabbitMQ. */
  readonly offset: number | undefined;
  /** Kafka: the record key, as text. */
  readonly key?: string | undefined;
  /** When it was published (ISO 8601), when known. */
  readonly timestamp: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  /** The payload as text (JSON, unless a foreign producer sent something else). */
  readonly payload: string;
}

/** The inspector's questions, each of which a binder may answer only in part. */
export type InspectQuestion = 'topics' | 'describe' | 'tail';

/**
 * Reading a binder's destinations without taking part: what Kafka's kafka-topics, kafka-consumer-groups and
 * kafka-console-consumer answer, on every binder. What a binder cannot observe it says in `limits`.
 */
export interface EventInspector {
  /** What this binder cannot show in the answer to a question, in a sentence (`trellis events` prints it aside). */
  readonly limits: Readonly<Partial<Record<InspectQuestion, string>>>;
  topics(hints?: InspectHints): Promise<TopicSummary[]>;
  /** Rejects with `not_found` when the destination does not exist. */
  describe(destination: string, hints?: InspectHints): Promise<TopicDescription>;
  /** Messages of a destination, in order per partition, ending after `timeoutMs` without one or on abort. */
  tail(destination: string, options?: TailOptions): AsyncIterable<TailedMessage>;
}

export interface ResolvedTail {
  readonly destination: string;
  readonly fromBeginning: boolean;
  readonly partition: number | undefined;
  readonly group: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly signal: AbortSignal | undefined;
}

/** Checks a tail's options the same way for every binder. */
export function resolveTail(destination: string, options: TailOptions = {}): ResolvedTail {
  const { partition, timeoutMs, group } = options;
  if (partition !== undefined && (!Number.isInteger(partition) || partition < 0)) {
    throw new EventsError('invalid_options', `partition must be a whole number from 0, got ${partition}`);
  }
  if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new EventsError('invalid_options', `timeoutMs must be positive, got ${timeoutMs}`);
  }
  if (options.fromBeginning === true && group !== undefined) {
    throw new EventsError('invalid_options', 'tail from the beginning or from a group, not both');
  }
  return {
    destination: checkName('destination', destination),
    fromBeginning: options.fromBeginning ?? false,
    partition,
    group: group === undefined ? undefined : checkName('group', group),
    timeoutMs,
    signal: options.signal,
  };
}

/** The partition a producer chose, from Spring's `scst_partition` header (a number, or its text on Kafka). */
export function partitionHeaderOf(headers: Readonly<Record<string, unknown>>): number | undefined {
  const raw = headers[PARTITION_HEADER];
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN;
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The queue between a binder's message source and a tail's reader: messages pushed in order, read with
 * `for await`, ending when the source ends, the reader stops, the signal aborts, or nothing came for `idleMs` once
 * the source reads.
 *
 * @example
 * const feed = new TailFeed<TailedMessage>({ idleMs: 1000 });
 * source.on('message', (m) => feed.push(m));
 * source.once('ready', () => feed.reading());
 * feed.onEnd(() => source.close());
 * return feed;
 */
export class TailFeed<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #idleMs: number | undefined;
  readonly #onEnd: (() => void | Promise<void>)[] = [];
  #wake: (() => void) | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #ended = false;
  #error: Error | undefined;
  #cleanup: Promise<unknown> | undefined;

  constructor(options: { idleMs?: number | undefined; signal?: AbortSignal | undefined }) {
    this.#idleMs = options.idleMs;
    options.signal?.addEventListener('abort', () => this.end(), { once: true });
    if (options.signal?.aborted === true) this.end();
  }

  /** Runs once the feed ends, for whatever reason: where the source closes its channel or stops polling. */
  onEnd(cleanup: () => void | Promise<void>): void {
    if (this.#ended)
      void Promise.resolve()
        .then(cleanup)
        .catch(() => undefined);
    else this.#onEnd.push(cleanup);
  }

  push(item: T): void {
    if (this.#ended) return;
    this.#items.push(item);
    this.#armIdle();
    this.#wake?.();
  }

  /**
   * Starts the idle clock: the source is reading now. Not before, so a slow start (a broker to reach, a group's
   * waiting messages to peek) never ends a tail that has not yet read anything.
   */
  reading(): void {
    if (!this.#ended) this.#armIdle();
  }

  /** Ends the feed: what was pushed is still read, nothing more is taken. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#idleTimer);
    const cleanups = this.#onEnd.splice(0);
    this.#cleanup = Promise.allSettled(cleanups.map(async (cleanup) => await cleanup()));
    this.#wake?.();
  }

  /** Ends the feed with an error the reader gets after what was pushed; ignored once the feed has ended. */
  fail(err: unknown): void {
    if (this.#ended) return;
    this.#error = err instanceof Error ? err : new Error(String(err));
    this.end();
  }

  #armIdle(): void {
    if (this.#idleMs === undefined) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => this.end(), this.#idleMs);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    try {
      for (;;) {
        const item = this.#items.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (this.#ended) break;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
      }
      if (this.#error !== undefined) throw this.#error;
    } finally {
      this.end();
      await this.#cleanup;
    }
  }
}
