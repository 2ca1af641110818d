// What both binders share: option validation, the JSON codec, partition routing and the attempt loop that decides
// whether a delivery is done or dead. The binders differ only in how they fetch, acknowledge and dead-letter.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '../http/timing.ts';
import { EventsError } from './errors.ts';
import { checkName, groupQueueName, partitionRoutingKey, PARTITION_HEADER } from './naming.ts';
import { selectPartition } from './partition.ts';
import type {
  BackoffPolicy,
  ConsumerOptions,
  EventHandler,
  EventMessage,
  HeaderValue,
  ProducerOptions,
} from './types.ts';

/** Spring Cloud Stream's consumer defaults. */
export const SPRING_RETRY = { maxAttempts: 3, initialIntervalMs: 1000, multiplier: 2, maxIntervalMs: 10_000 } as const;

export interface ResolvedProducer<T> {
  readonly destination: string;
  readonly partitionKey: ProducerOptions<T>['partitionKey'];
  readonly partitionCount: number;
  readonly requiredGroups: readonly string[];
  readonly deadLetter: boolean;
}

export interface ResolvedConsumer<T> {
  readonly destination: string;
  readonly group: string | undefined;
  readonly instanceIndex: number | undefined;
  readonly instanceCount: number | undefined;
  readonly maxAttempts: number;
  readonly backoff: Required<BackoffPolicy>;
  readonly deadLetter: boolean;
  readonly concurrency: number;
  readonly prefetch: number;
  readonly handler: EventHandler<T>;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new EventsError('invalid_options', `${name} must be a positive integer`);
  return v;
}

export function resolveProducer<T>(options: ProducerOptions<T>): ResolvedProducer<T> {
  const partitionCount = positiveInt('partitionCount', options.partitionCount, 1);
  if (partitionCount > 1 && options.partitionKey === undefined) {
    throw new EventsError('invalid_options', `partitionCount ${partitionCount} needs a partitionKey function`);
  }
  return {
    destination: checkName('destination', options.destination),
    // Spring also partitions with a key and one partition, which declares a `<group>-0` queue that unpartitioned
    // consumers never read; with one partition the key is ignored so required groups stay `<destination>.<group>`.
    partitionKey: partitionCount > 1 ? options.partitionKey : undefined,
    partitionCount,
    requiredGroups: (options.requiredGroups ?? []).map((g) => checkName('group', g)),
    deadLetter: options.deadLetter ?? true,
  };
}

export function resolveConsumer<T>(options: ConsumerOptions<T>): ResolvedConsumer<T> {
  const destination = checkName('destination', options.destination);
  const group = options.group === undefined ? undefined : checkName('group', options.group);
  const p = options.partitioned;
  if (p !== undefined) {
    positiveInt('partitioned.instanceCount', p.instanceCount, 1);
    if (!Number.isInteger(p.instanceIndex) || p.instanceIndex < 0 || p.instanceIndex >= p.instanceCount) {
      throw new EventsError('invalid_options', `instanceIndex must be in 0..${p.instanceCount - 1}`);
    }
    if (group === undefined) throw new EventsError('invalid_options', 'a partitioned consumer needs a group');
  }
  const concurrency = positiveInt('concurrency', options.concurrency, 1);
  const backoff = options.backoff ?? {};
  const initialIntervalMs = backoff.initialIntervalMs ?? SPRING_RETRY.initialIntervalMs;
  const multiplier = backoff.multiplier ?? SPRING_RETRY.multiplier;
  const maxIntervalMs = backoff.maxIntervalMs ?? SPRING_RETRY.maxIntervalMs;
  if (!(initialIntervalMs >= 0 && multiplier >= 1 && maxIntervalMs >= 0)) {
    throw new EventsError(
      'invalid_options',
      'backoff needs initialIntervalMs >= 0, multiplier >= 1, maxIntervalMs >= 0',
    );
  }
  return {
    destination,
    group,
    instanceIndex: p?.instanceIndex,
    instanceCount: p?.instanceCount,
    maxAttempts: positiveInt('maxAttempts', options.maxAttempts, SPRING_RETRY.maxAttempts),
    backoff: { initialIntervalMs, multiplier, maxIntervalMs },
    // An anonymous queue disappears with its consumer: there is no group whose dead letters anyone would act on.
    deadLetter: group !== undefined && (options.deadLetter ?? true),
    concurrency,
    prefetch: positiveInt('prefetch', options.prefetch, concurrency),
    handler: options.handler,
  };
}

/** The queue a grouped consumer reads. */
export function consumerQueue<T>(c: ResolvedConsumer<T>): string | undefined {
  return c.group === undefined ? undefined : groupQueueName(c.destination, c.group, c.instanceIndex);
}

/** Serializes a payload; refuses what JSON cannot carry instead of sending `undefined`. */
export function encodePayload(payload: unknown): Buffer {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (err) {
    throw new EventsError('invalid_payload', `payload is not JSON-serializable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (text === undefined) throw new EventsError('invalid_payload', 'payload is not JSON-serializable');
  return Buffer.from(text, 'utf8');
}

export interface Route {
  readonly routingKey: string;
  readonly headers: Record<string, HeaderValue>;
  readonly partition: number | undefined;
}

/** Spring's producer routing: the destination, or `<destination>-<partition>` with `scst_partition` set. */
export function route<T>(p: ResolvedProducer<T>, payload: T, extra: Readonly<Record<string, HeaderValue>>): Route {
  if (p.partitionKey === undefined) return { routingKey: p.destination, headers: { ...extra }, partition: undefined };
  const partition = selectPartition(p.partitionKey(payload, extra), p.partitionCount);
  return {
    routingKey: partitionRoutingKey(p.destination, partition),
    headers: { ...extra, [PARTITION_HEADER]: partition },
    partition,
  };
}

/** One message as a binder received it, before decoding. */
export interface Inbound {
  readonly body: Buffer;
  /** Read only when the handler reads them, so a binder may decode them lazily (a getter). */
  readonly headers: Readonly<Record<string, unknown>>;
  readonly deliveryId: string;
  readonly redelivered: boolean;
  /** `scst_partition` when the binder read it without decoding every header; else it is taken from the headers. */
  readonly partition?: number | undefined;
}

export type Outcome =
  | { readonly kind: 'done' }
  /** `errorClass` is the error's name (`TypeError`), what Kafka's `x-exception-fqcn` carries for Java's class. */
  | { readonly kind: 'dead'; readonly reason: string; readonly stacktrace: string; readonly errorClass: string }
  /** The consumer closed while the message waited for a retry: leave it to be delivered again. */
  | { readonly kind: 'abandoned' };

function describeFailure(err: unknown): { reason: string; stacktrace: string; errorClass: string } {
  if (err instanceof Error) {
    return { reason: err.message || err.name, stacktrace: err.stack ?? `${err.name}`, errorClass: err.name };
  }
  return { reason: String(err), stacktrace: String(err), errorClass: typeof err };
}

const DONE: Outcome = Object.freeze({ kind: 'done' });

/**
 * Decodes a delivery and runs the handler up to maxAttempts times with Spring's backoff. An undecodable payload is
 * dead at once: retrying cannot make bad JSON good, and a retry loop would only hold up the queue. A handler that
 * returns without a promise and does not throw is done at once, with no promise made (the Kafka binder's hot path).
 */
export function runHandler<T>(
  c: ResolvedConsumer<T>,
  inbound: Inbound,
  signal: AbortSignal,
): Outcome | Promise<Outcome> {
  let payload: T;
  try {
    payload = JSON.parse(inbound.body.toString('utf8')) as T;
  } catch (err) {
    const { stacktrace, errorClass } = describeFailure(err);
    return { kind: 'dead', reason: `invalid JSON payload: ${(err as Error).message}`, stacktrace, errorClass };
  }
  const partition = 'partition' in inbound ? inbound.partition : partitionOf(inbound.headers);
  let first: void | Promise<void>;
  try {
    first = c.handler(new Delivery(payload, inbound, 1, partition, c.destination));
  } catch (err) {
    return retry(c, payload, inbound, partition, err, signal);
  }
  if (!isPromiseLike(first)) return DONE;
  return Promise.resolve(first).then(
    () => DONE,
    (err: unknown) => retry(c, payload, inbound, partition, err, signal),
  );
}

/** An EventMessage whose headers (and id) are read from the inbound message only when the handler asks for them. */
class Delivery<T> implements EventMessage<T> {
  readonly payload: T;
  readonly attempt: number;
  readonly partition: number | undefined;
  readonly destination: string;
  readonly redelivered: boolean;
  readonly #inbound: Inbound;

  constructor(payload: T, inbound: Inbound, attempt: number, partition: number | undefined, destination: string) {
    this.payload = payload;
    this.#inbound = inbound;
    this.attempt = attempt;
    this.partition = partition;
    this.destination = destination;
    this.redelivered = inbound.redelivered;
  }

  get deliveryId(): string {
    return this.#inbound.deliveryId;
  }

  get headers(): Readonly<Record<string, unknown>> {
    return this.#inbound.headers;
  }
}

function partitionOf(headers: Readonly<Record<string, unknown>>): number | undefined {
  const value = headers[PARTITION_HEADER];
  return typeof value === 'number' ? value : undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** Attempts 2..maxAttempts after the first failed, each after its backoff. */
async function retry<T>(
  c: ResolvedConsumer<T>,
  payload: T,
  inbound: Inbound,
  partition: number | undefined,
  firstError: unknown,
  signal: AbortSignal,
): Promise<Outcome> {
  let error = firstError;
  for (let failed = 1; failed < c.maxAttempts; failed++) {
    const delay = backoffDelay(failed, {
      initialDelayMs: c.backoff.initialIntervalMs,
      multiplier: c.backoff.multiplier,
      maxDelayMs: c.backoff.maxIntervalMs,
    });
    try {
      await sleep(delay, undefined, { signal });
    } catch {
      return { kind: 'abandoned' };
    }
    try {
      await c.handler(new Delivery(payload, inbound, failed + 1, partition, c.destination));
      return DONE;
    } catch (err) {
      error = err;
    }
  }
  return { kind: 'dead', ...describeFailure(error) };
}

/**
 * Runs work items with at most `concurrency` at a time, in arrival order; with 1 a partition's messages are handled
 * one after another, as Spring's single listener thread does.
 */
export class WorkPool<I> {
  readonly #items: I[] = [];
  readonly #concurrency: number;
  readonly #work: (item: I) => Promise<void>;
  #running = 0;
  #idle: (() => void)[] = [];

  constructor(concurrency: number, work: (item: I) => Promise<void>) {
    this.#concurrency = concurrency;
    this.#work = work;
  }

  get size(): number {
    return this.#items.length + this.#running;
  }

  push(item: I): void {
    this.#items.push(item);
    this.#pump();
  }

  /** Drops the items not yet started (their messages go back to the queue with the channel or lease). */
  clear(): I[] {
    return this.#items.splice(0);
  }

  /** Resolves when nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.#items.length > 0) {
      const item = this.#items.shift() as I;
      this.#running++;
      // The work function handles its own failures; this catch only keeps a bug there from stopping the pool.
      void this.#work(item)
        .catch(() => undefined)
        .finally(() => {
          this.#running--;
          this.#pump();
          if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
        });
    }
  }
}
