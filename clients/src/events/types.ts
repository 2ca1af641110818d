// The public shapes of the events module: binders, producers, consumers, messages and dead letters.
import type { HealthIndicator } from '@trellis/kit';
import type { EventInspector } from './inspect.ts';
import type { PartitionKey } from './partition.ts';

/** Header values a producer may add; they travel as AMQP headers (or their JSON in the embedded binder). */
export type HeaderValue = string | number | boolean;

/** Spring Retry's exponential backoff between in-process attempts. */
export interface BackoffPolicy {
  /** Delay before the second attempt. Default 1000 ms (Spring's backOffInitialInterval). */
  readonly initialIntervalMs?: number;
  /** Growth factor. Default 2.0 (backOffMultiplier). */
  readonly multiplier?: number;
  /** Largest delay. Default 10000 ms (backOffMaxInterval). */
  readonly maxIntervalMs?: number;
}

export interface ProducerOptions<T> {
  /** The destination (Spring's `destination`): the topic exchange every consumer group binds to. */
  readonly destination: string;
  /** Picks the partition key of a payload; the producer partitions like Spring when `partitionCount` > 1. */
  readonly partitionKey?: (payload: T, headers: Readonly<Record<string, HeaderValue>>) => PartitionKey;
  /** Number of partitions (Spring's `partitionCount`). Default 1 (not partitioned). */
  readonly partitionCount?: number;
  /**
   * Groups whose queues the producer declares before sending (Spring's `requiredGroups`), so nothing sent before
   * the consumers first start is lost.
   */
  readonly requiredGroups?: readonly string[];
  /** Whether required group queues get a dead-letter queue; must match the consumers' `deadLetter`. Default true. */
  readonly deadLetter?: boolean;
}

export interface SendOptions {
  readonly headers?: Readonly<Record<string, HeaderValue>>;
}

/** Sends JSON events to one destination. */
export interface Producer<T> {
  readonly destination: string;
  /**
   * Resolves once the broker (or the embedded store) has the message durably; rejects with an EventsError when it
   * cannot within the publish timeout, so a message is never silently lost.
   */
  send(payload: T, options?: SendOptions): Promise<void>;
}

/** One delivery of an event to a handler. */
export interface EventMessage<T> {
  readonly payload: T;
  readonly headers: Readonly<Record<string, unknown>>;
  /**
   * Stable across redeliveries of the same message (the AMQP message id the producer set): delivery is
   * at-least-once, so a handler with side effects records the ids it has done.
   */
  readonly deliveryId: string;
  /** 1 for the first attempt, up to maxAttempts. */
  readonly attempt: number;
  /** The partition the producer chose (`scst_partition`), when it partitioned. */
  readonly partition: number | undefined;
  readonly destination: string;
  /** True when the broker delivered this message before (a consumer crashed or lost its connection meanwhile). */
  readonly redelivered: boolean;
}

export type EventHandler<T> = (message: EventMessage<T>) => void | Promise<void>;

export interface ConsumerOptions<T> {
  readonly destination: string;
  /** The consumer group; each message reaches one instance per group. Without a group the subscription is anonymous. */
  readonly group?: string;
  /** Spring's `partitioned` with `instanceIndex` and `instanceCount`: this instance reads partition `instanceIndex`. */
  readonly partitioned?: { readonly instanceIndex: number; readonly instanceCount: number };
  /** Attempts including the first (Spring's maxAttempts). Default 3. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffPolicy;
  /** Move messages that still fail to `<destination>.<group>.dlq` (Spring's autoBindDlq + republishToDlq). Default true. */
  readonly deadLetter?: boolean;
  /** Messages handled at the same time. Default 1, which keeps a partition's order. */
  readonly concurrency?: number;
  /** Messages the broker sends ahead of acknowledgements. Default `concurrency` (Spring's prefetch is 1 a consumer). */
  readonly prefetch?: number;
  readonly handler: EventHandler<T>;
}

/** A running subscription; `close()` stops taking messages and waits for the ones in hand. */
export interface Consumer {
  /** The queue the consumer reads (`<destination>.<group>`, `<destination>.<group>-<index>` or an anonymous one). */
  readonly queue: string;
  close(): Promise<void>;
}

/** A message in a dead-letter queue, with the failure Spring's headers describe. */
export interface DeadLetter {
  /** The message's delivery id: pass it to `show` or `replay`. */
  readonly id: string;
  /** The queue the message failed in, where replay sends it back. */
  readonly queue: string;
  /** The payload as it was received (text; it may be the invalid JSON that caused the failure). */
  readonly payload: string;
  readonly headers: Readonly<Record<string, unknown>>;
  /** `x-exception-message`: why it failed. */
  readonly reason: string | undefined;
}

/** Dead letters of one group, for both binders. */
export interface DeadLetterQueue {
  /** `<destination>.<group>.dlq`. */
  readonly name: string;
  /** The oldest `limit` dead letters (default 100), left in the queue. */
  list(options?: { limit?: number }): Promise<DeadLetter[]>;
  /** One dead letter; rejects with `not_found` when no message has that id. */
  show(id: string): Promise<DeadLetter>;
  /** Sends dead letters back to the queue they failed in (all, or those with the given ids); answers how many. */
  replay(options?: { ids?: readonly string[] }): Promise<number>;
  /** Deletes every dead letter; answers how many. */
  purge(): Promise<number>;
}

export type BinderKind = 'kafka' | 'rabbit' | 'embedded';

/** A binder: the connection of a service to its event destinations (a broker, or the embedded store). */
export interface EventBinder {
  readonly kind: BinderKind;
  producer<T>(options: ProducerOptions<T>): Promise<Producer<T>>;
  consume<T>(options: ConsumerOptions<T>): Promise<Consumer>;
  deadLetters(destination: string, group: string): DeadLetterQueue;
  /** Reading its destinations without taking part (topics, partitions, group lag, a tail of messages). */
  readonly inspect?: EventInspector;
  /** The `binders` health component: DOWN while the broker is away (register it on readiness only). */
  readonly health: HealthIndicator;
  /** Stops every consumer (waiting for messages in hand) and closes the connection or database. */
  close(): Promise<void>;
}
