// The RabbitMQ binder on amqplib, declaring exactly what Spring Cloud Stream's Rabbit binder declares (see naming.ts)
// so Node and Spring services share exchanges, group queues and dead-letter queues.
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type {
  Channel,
  ChannelModel,
  ConfirmChannel,
  ConsumeMessage,
  GetMessage,
  Options,
  RecoveringChannelModel,
} from 'amqplib';
import { backoffDelay, type BackoffOptions } from '../http/timing.ts';
import { currentObservability, type Health, redactUrl, type Logger, type Observability } from '@trellis/kit';
import { EventsError } from './errors.ts';
import { createRabbitInspector } from './inspect-rabbit.ts';
import {
  ALL_KEYS,
  anonymousQueueName,
  checkName,
  deadLetterQueueName,
  DLX,
  EXCEPTION_HEADERS,
  groupQueueArguments,
  groupQueueName,
  partitionRoutingKey,
} from './naming.ts';
import { BinderObservation, recordGetter, recordSetter, type ConsumerObserver, type TraceWriter } from './observe.ts';
import {
  consumerQueue,
  encodePayload,
  resolveConsumer,
  resolveProducer,
  route,
  runHandler,
  WorkPool,
  type Outcome,
  type ResolvedConsumer,
} from './processing.ts';
import type {
  Consumer,
  ConsumerOptions,
  DeadLetter,
  DeadLetterQueue,
  EventBinder,
  Producer,
  ProducerOptions,
  SendOptions,
} from './types.ts';

export interface RabbitBinderOptions {
  /** `amqp://user:pass@host:5672/vhost`. */
  readonly url: string;
  readonly logger?: Logger;
  /**
   * How long `send` waits for the broker (while it is away, or for the confirm) before rejecting with
   * `broker_unavailable`. Default 30 s.
   */
  readonly publishTimeoutMs?: number;
  /** Backoff between reconnection attempts. Default 500 ms doubling up to 10 s. */
  readonly reconnect?: BackoffOptions;
  /** AMQP heartbeat in seconds, which bounds how long a silently dead broker goes unnoticed. Default 10. */
  readonly heartbeatSec?: number;
  /** Shown as the connection's name in the RabbitMQ management UI and `rabbitmqctl list_connections`. */
  readonly connectionName?: string;
  /** Meters and tracer to record into. Default: the scope's (`currentObservability()`) when the binder is made. */
  readonly observability?: Observability;
}

const CONTENT_TYPE = 'application/json';

/** Removes a password from a broker URL, so it can be logged and shown in health details. */
function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return redactUrl(u.toString());
  } catch {
    return 'amqp://(unparseable url)';
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The id handlers de-duplicate with: the producer's message id, or (for producers that set none) a content hash. */
function deliveryIdOf(msg: ConsumeMessage | GetMessage): string {
  const id: unknown = msg.properties.messageId;
  if (typeof id === 'string' && id !== '') return id;
  return createHash('sha256')
    .update(msg.fields.exchange)
    .update('\0')
    .update(msg.fields.routingKey)
    .update('\0')
    .update(JSON.stringify(msg.properties.headers ?? {}))
    .update('\0')
    .update(msg.content)
    .digest('base64url');
}

/** Spring's republish headers; the stack trace is cut so the headers table stays within AMQP's frame limits. */
function exceptionHeaders(msg: ConsumeMessage, outcome: Extract<Outcome, { kind: 'dead' }>): Record<string, string> {
  return {
    [EXCEPTION_HEADERS.message]: outcome.reason.slice(0, 4000),
    [EXCEPTION_HEADERS.stacktrace]: outcome.stacktrace.slice(0, 16_000),
    [EXCEPTION_HEADERS.originalExchange]: msg.fields.exchange,
    [EXCEPTION_HEADERS.originalRoutingKey]: msg.fields.routingKey,
  };
}

interface Work {
  readonly ch: Channel;
  readonly msg: ConsumeMessage;
}

/** Declares a group queue (and its DLQ) exactly as Spring's provisioner does. */
async function declareGroupQueue(
  ch: Channel,
  destination: string,
  queue: string,
  bindingKey: string,
  deadLetter: boolean,
  dlq: string,
): Promise<void> {
  if (deadLetter) {
    await ch.assertExchange(DLX, 'direct', { durable: true, autoDelete: false });
    await ch.assertQueue(dlq, { durable: true, exclusive: false, autoDelete: false });
    await ch.bindQueue(dlq, DLX, queue);
  }
  await ch.assertQueue(queue, {
    durable: true,
    exclusive: false,
    autoDelete: false,
    arguments: groupQueueArguments(queue, deadLetter),
  });
  await ch.bindQueue(queue, destination, bindingKey);
}

class RabbitConsumer<T> implements Consumer {
  readonly queue: string;
  readonly #c: ResolvedConsumer<T>;
  readonly #binder: RabbitBinder;
  readonly #pool: WorkPool<Work>;
  readonly #abort = new AbortController();
  readonly #observer: ConsumerObserver | undefined;
  #ch: Channel | undefined;
  #tag: string | undefined;
  #closed = false;
  #attachedTo: ChannelModel | undefined;

  constructor(binder: RabbitBinder, c: ResolvedConsumer<T>) {
    this.#binder = binder;
    this.#c = c;
    this.queue = consumerQueue(c) ?? anonymousQueueName(c.destination);
    this.#pool = new WorkPool(c.concurrency, (w) => this.#handle(w));
    this.#observer = binder.observation.consumer(c.destination, c.group);
  }

  /** Declares the topology and starts consuming on a (new) connection. */
  async attach(model: ChannelModel): Promise<void> {
    // A consumer added while a connection's setup runs is attached by that setup; consume() must not add a second
    // channel whose deliveries nobody would acknowledge.
    if (this.#closed || this.#attachedTo === model) return;
    this.#attachedTo = model;
    const c = this.#c;
    const ch = await model.createChannel();
    ch.on('error', (err: Error) => this.#binder.log.warn({ err, queue: this.queue }, 'consumer channel error'));
    ch.on('close', () => {
      if (this.#ch === ch) this.#ch = undefined;
      // Messages not yet started were delivered on this channel; the broker gives them to someone else.
      this.#pool.clear();
    });
    await ch.assertExchange(c.destination, 'topic', { durable: true, autoDelete: false });
    if (c.group === undefined) {
      await ch.assertQueue(this.queue, { durable: false, exclusive: true, autoDelete: true });
      await ch.bindQueue(this.queue, c.destination, ALL_KEYS);
    } else {
      const key = c.instanceIndex === undefined ? ALL_KEYS : partitionRoutingKey(c.destination, c.instanceIndex);
      await declareGroupQueue(
        ch,
        c.destination,
        this.queue,
        key,
        c.deadLetter,
        deadLetterQueueName(c.destination, c.group),
      );
    }
    await ch.prefetch(c.prefetch);
    const { consumerTag } = await ch.consume(this.queue, (msg) => {
      if (msg === null) {
        this.#binder.log.warn({ queue: this.queue }, 'the broker cancelled the consumer (queue deleted?)');
        return;
      }
      this.#pool.push({ ch, msg });
    });
    this.#ch = ch;
    this.#tag = consumerTag;
  }

  async #handle({ ch, msg }: Work): Promise<void> {
    const inbound = {
      body: msg.content,
      headers: headersOf(msg),
      deliveryId: deliveryIdOf(msg),
      redelivered: msg.fields.redelivered,
    };
    const observer = this.#observer;
    const outcome = await (observer === undefined
      ? runHandler(this.#c, inbound, this.#abort.signal)
      : observer.run(inbound.headers, recordGetter, () => runHandler(this.#c, inbound, this.#abort.signal)));
    // A message delivered on a channel that has since closed is back in the queue already: acknowledging it is
    // impossible and unnecessary; the next delivery carries the same delivery id for the handler to de-duplicate.
    if (this.#ch !== ch) return;
    try {
      switch (outcome.kind) {
        case 'done':
          ch.ack(msg);
          return;
        case 'abandoned':
          ch.nack(msg, false, true);
          return;
        case 'dead':
          if (!this.#c.deadLetter) {
            this.#binder.log.error({ queue: this.queue, reason: outcome.reason }, 'message failed; dropped (no DLQ)');
            ch.nack(msg, false, false);
            return;
          }
          await this.#binder.republishDead(msg, this.queue, outcome);
          ch.ack(msg);
          observer?.deadLettered();
          this.#binder.log.warn(
            { queue: this.queue, reason: outcome.reason },
            'message moved to the dead-letter queue',
          );
          return;
      }
    } catch (err) {
      // The channel or connection went away mid-way: the broker redelivers the unacknowledged message.
      this.#binder.log.warn({ err, queue: this.queue }, 'could not settle a message; it will be redelivered');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const ch = this.#ch;
    if (ch !== undefined && this.#tag !== undefined) await ch.cancel(this.#tag).catch(() => undefined);
    this.#abort.abort();
    await this.#pool.idle();
    this.#ch = undefined;
    if (ch !== undefined) await ch.close().catch(() => undefined);
    this.#binder.forget(this);
  }
}

class RabbitBinder implements EventBinder {
  readonly kind = 'rabbit';
  readonly inspect = createRabbitInspector(this);
  readonly log: Logger | Pick<Logger, 'warn' | 'error' | 'info'>;
  readonly observation: BinderObservation;
  readonly #url: string;
  readonly #publishTimeoutMs: number;
  readonly #conn: RecoveringChannelModel;
  readonly #topology: ((ch: Channel) => Promise<void>)[] = [];
  readonly #consumers = new Set<RabbitConsumer<unknown>>();
  #model: ChannelModel | undefined;
  #pub: ConfirmChannel | undefined;
  #drain: Promise<unknown> | undefined;
  #waiters: (() => void)[] = [];
  #closed = false;
  #since = Date.now();
  #lastError: string | undefined;
  #pending = 0;

  constructor(options: RabbitBinderOptions, conn: RecoveringChannelModel) {
    this.#url = options.url;
    this.#publishTimeoutMs = options.publishTimeoutMs ?? 30_000;
    this.observation = new BinderObservation('rabbit', options.observability ?? currentObservability());
    const noop = (): void => undefined;
    this.log = options.logger ?? { warn: noop, error: noop, info: noop };
    this.#conn = conn;
    this.#conn.on('disconnect', (err: Error) => this.#down(err));
    this.#conn.on('connect-failed', (err: Error) => {
      this.#lastError = describe(err);
    });
    this.#conn.on('reconnect-scheduled', ({ attempt, delay }: { attempt: number; delay: number }) =>
      this.log.warn(
        { broker: safeUrl(this.#url), attempt, delayMs: delay, error: this.#lastError },
        'broker away; reconnecting',
      ),
    );
    this.#conn.on('error', (err: Error) => {
      this.#lastError = describe(err);
    });
  }

  /** Runs on every (re)connection before it counts as up: topology, then consumers, then the publish channel. */
  async setup(model: ChannelModel): Promise<void> {
    const ch = await model.createConfirmChannel();
    ch.on('error', (err: Error) => this.log.warn({ err }, 'publish channel error'));
    for (const declare of this.#topology) await declare(ch);
    for (const consumer of this.#consumers) await consumer.attach(model);
    ch.on('drain', () => {
      this.#drain = undefined;
    });
    this.#model = model;
    this.#pub = ch;
    this.#since = Date.now();
    this.#lastError = undefined;
    this.log.info({ broker: safeUrl(this.#url) }, 'connected to the broker');
    for (const wake of this.#waiters.splice(0)) wake();
  }

  #down(err: Error): void {
    this.#model = undefined;
    this.#pub = undefined;
    this.#drain = undefined;
    this.#since = Date.now();
    this.#lastError = describe(err);
    this.log.warn({ broker: safeUrl(this.#url), error: this.#lastError }, 'lost the broker connection');
  }

  async ready(timeoutMs = this.#publishTimeoutMs): Promise<void> {
    await this.#channel(Date.now() + timeoutMs);
  }

  /** The current publish channel, waiting for a connection until the deadline. */
  async #channel(deadline: number): Promise<ConfirmChannel> {
    for (;;) {
      if (this.#closed) throw new EventsError('closed', 'the event binder is closed');
      if (this.#pub !== undefined) return this.#pub;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new EventsError(
          'broker_unavailable',
          `no broker connection within ${this.#publishTimeoutMs} ms (${this.#lastError ?? 'connecting'})`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
    }
  }

  /**
   * Publishes with a confirm, riding out connection losses until the deadline: a message whose confirm was lost
   * with the connection is sent again (same message id), so it is at-least-once and never silently lost.
   */
  async publish(exchange: string, routingKey: string, body: Buffer, props: Options.Publish): Promise<void> {
    const deadline = Date.now() + this.#publishTimeoutMs;
    this.#pending++;
    try {
      for (;;) {
        const ch = await this.#channel(deadline);
        // Backpressure: while the socket's buffer is full, wait for it to drain instead of buffering without bound.
        if (this.#drain !== undefined) await this.#drain;
        if (ch !== this.#pub) continue;
        try {
          await new Promise<void>((resolve, reject) => {
            const ok = ch.publish(exchange, routingKey, body, props, (err: unknown) =>
              err === null || err === undefined ? resolve() : reject(toError(err)),
            );
            if (!ok) this.#drain ??= once(ch, 'drain').catch(() => undefined);
          });
          return;
        } catch (err) {
          if ((err as Error).message === 'message nacked') {
            throw new EventsError('publish_rejected', `the broker refused a message for ${exchange}`, { cause: err });
          }
          // The channel closed before the confirm: loop and send again once reconnected.
          if (Date.now() >= deadline) {
            throw new EventsError('broker_unavailable', `no confirm for a message to ${exchange}`, { cause: err });
          }
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    } finally {
      this.#pending--;
    }
  }

  /** Spring's RepublishMessageRecoverer: the failed message to `DLX` keyed by its queue, with the exception headers. */
  async republishDead(msg: ConsumeMessage, queue: string, outcome: Extract<Outcome, { kind: 'dead' }>): Promise<void> {
    const ch = this.#pub;
    if (ch === undefined) throw new EventsError('broker_unavailable', 'no broker connection to dead-letter a message');
    await new Promise<void>((resolve, reject) => {
      ch.publish(
        DLX,
        queue,
        msg.content,
        {
          ...copyProperties(msg),
          deliveryMode: 2,
          headers: { ...headersOf(msg), ...exceptionHeaders(msg, outcome) },
        },
        (err: unknown) => (err === null || err === undefined ? resolve() : reject(toError(err))),
      );
    });
  }

  async producer<T>(options: ProducerOptions<T>): Promise<Producer<T>> {
    const p = resolveProducer(options);
    const declare = async (ch: Channel): Promise<void> => {
      await ch.assertExchange(p.destination, 'topic', { durable: true, autoDelete: false });
      for (const group of p.requiredGroups) {
        const dlq = deadLetterQueueName(p.destination, group);
        if (p.partitionKey === undefined) {
          const queue = groupQueueName(p.destination, group);
          await declareGroupQueue(ch, p.destination, queue, ALL_KEYS, p.deadLetter, dlq);
        } else {
          for (let i = 0; i < p.partitionCount; i++) {
            const queue = groupQueueName(p.destination, group, i);
            await declareGroupQueue(ch, p.destination, queue, partitionRoutingKey(p.destination, i), p.deadLetter, dlq);
          }
        }
      }
    };
    await this.#declare(declare);
    const observer = this.observation.producer(p.destination);
    // Trace headers go in the AMQP headers table as plain strings, where Spring AMQP's observation reads them.
    const make = (payload: T, sendOptions: SendOptions, writeTrace?: TraceWriter) => {
      const body = encodePayload(payload);
      const r = route(p, payload, sendOptions.headers ?? {});
      writeTrace?.(r.headers, recordSetter);
      return { routingKey: r.routingKey, headers: r.headers, body };
    };
    const deliver = (m: ReturnType<typeof make>): Promise<void> =>
      this.publish(p.destination, m.routingKey, m.body, {
        contentType: CONTENT_TYPE,
        deliveryMode: 2,
        messageId: randomUUID(),
        timestamp: Math.floor(Date.now() / 1000),
        headers: m.headers,
      });
    return {
      destination: p.destination,
      send: async (payload, sendOptions = {}) => {
        await (observer === undefined
          ? deliver(make(payload, sendOptions))
          : observer.send((writeTrace) => make(payload, sendOptions, writeTrace), deliver));
      },
    };
  }

  /** Remembers a declaration for every later reconnection and runs it now (waiting for the broker if away). */
  async #declare(declare: (ch: Channel) => Promise<void>): Promise<void> {
    this.#topology.push(declare);
    const model = await this.#modelNow();
    const ch = await model.createChannel();
    try {
      await declare(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  async #modelNow(): Promise<ChannelModel> {
    await this.#channel(Date.now() + this.#publishTimeoutMs);
    if (this.#model === undefined) throw new EventsError('broker_unavailable', 'lost the broker connection');
    return this.#model;
  }

  async consume<T>(options: ConsumerOptions<T>): Promise<Consumer> {
    const consumer = new RabbitConsumer(this, resolveConsumer(options));
    this.#consumers.add(consumer as RabbitConsumer<unknown>);
    await consumer.attach(await this.#modelNow());
    return consumer;
  }

  forget(consumer: RabbitConsumer<never>): void {
    this.#consumers.delete(consumer as RabbitConsumer<unknown>);
  }

  deadLetters(destination: string, group: string): DeadLetterQueue {
    return new RabbitDeadLetters(this, checkName('destination', destination), checkName('group', group));
  }

  /** A short-lived channel for dead-letter operations; closing it puts back whatever it fetched and did not ack. */
  async withChannel<R>(fn: (ch: ConfirmChannel) => Promise<R>): Promise<R> {
    const model = await this.#modelNow();
    const ch = await model.createConfirmChannel();
    ch.on('error', () => undefined);
    try {
      return await fn(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }

  readonly health = (): Health => {
    const details = { binder: 'rabbit', broker: safeUrl(this.#url) };
    if (this.#pub !== undefined) return { status: 'UP', details: { ...details, connectedSince: iso(this.#since) } };
    return {
      status: 'DOWN',
      details: {
        ...details,
        reason: this.#closed ? 'binder closed' : `no broker connection (${this.#lastError ?? 'connecting'})`,
        since: iso(this.#since),
        pendingPublishes: this.#pending,
      },
    };
  };

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#consumers].map((c) => c.close()));
    this.#closed = true;
    for (const wake of this.#waiters.splice(0)) wake();
    this.#pub = undefined;
    await this.#conn.close().catch(() => undefined);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The AMQP properties worth carrying over when a message is republished (user-id would be checked against us). */
function copyProperties(msg: ConsumeMessage | GetMessage): Options.Publish {
  const p = msg.properties;
  const out: Record<string, unknown> = {};
  const carried = {
    contentType: p.contentType as unknown,
    contentEncoding: p.contentEncoding as unknown,
    correlationId: p.correlationId as unknown,
    messageId: p.messageId as unknown,
    timestamp: p.timestamp as unknown,
    type: p.type as unknown,
    appId: p.appId as unknown,
    priority: p.priority as unknown,
  };
  for (const [k, v] of Object.entries(carried)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

function headersOf(msg: ConsumeMessage | GetMessage): Record<string, unknown> {
  const h: unknown = msg.properties.headers;
  return typeof h === 'object' && h !== null ? (h as Record<string, unknown>) : {};
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Connects to RabbitMQ and returns a binder that declares Spring Cloud Stream's names, publishes with confirms and
 * reconnects on its own (amqplib's recovery with our backoff), re-declaring its topology and consumers each time.
 * It resolves at once; producers and consumers wait for the first connection up to the publish timeout.
 *
 * @example
 * const binder = await createRabbitBinder({ url: 'amqp://guest:guest@localhost:5672', logger });
 * const products = await binder.producer<ProductEvent>({
 *   destination: 'products', partitionKey: (e) => e.key, partitionCount: 2, requiredGroups: ['productsGroup'],
 * });
 * await products.send({ eventType: 'CREATE', key: 1, data: product });
 */
export async function createRabbitBinder(
  options: RabbitBinderOptions,
): Promise<EventBinder & { ready(timeoutMs?: number): Promise<void> }> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new EventsError('invalid_options', 'the broker URL is not a URL (amqp://user:pass@host:5672/vhost)');
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') {
    throw new EventsError('invalid_options', `the broker URL must start with amqp:// or amqps://, got ${url.protocol}`);
  }
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(options.heartbeatSec ?? 10));
  const reconnect = { initialDelayMs: 500, maxDelayMs: 10_000, ...options.reconnect };
  const holder: { binder?: RabbitBinder } = {};
  // The scope's observability is taken before the import, at the caller's call.
  const observability = options.observability ?? currentObservability();
  // Loaded here, not at module load: a service on the embedded binder never loads amqplib.
  const { connect } = await import('amqplib');
  // With waitForConnect false the handle comes back before the first attempt (which starts on setImmediate), so the
  // binder exists and listens before any connection event.
  const conn = await connect(url.toString(), {
    clientProperties: { connection_name: options.connectionName ?? 'trellis-events' },
    recovery: {
      waitForConnect: false,
      calculateDelay: (attempt: number) => backoffDelay(attempt, reconnect),
      setup: (model: ChannelModel) => (holder.binder as RabbitBinder).setup(model),
    },
  });
  holder.binder = new RabbitBinder({ ...options, observability }, conn);
  return holder.binder;
}

/** Headers a replay removes, so the message is retried afresh and a second failure records its own reason. */
const FAILURE_HEADERS = new Set<string>([
  ...Object.values(EXCEPTION_HEADERS),
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
]);

function toDeadLetter(msg: GetMessage, fallbackQueue: string): DeadLetter {
  const headers = headersOf(msg);
  const reason = headers[EXCEPTION_HEADERS.message];
  return {
    id: deliveryIdOf(msg),
    // Spring (and the broker's own dead-lettering) key a dead letter by the queue it failed in.
    queue: msg.fields.routingKey === '' ? fallbackQueue : msg.fields.routingKey,
    payload: msg.content.toString('utf8'),
    headers,
    reason: typeof reason === 'string' ? reason : Buffer.isBuffer(reason) ? reason.toString('utf8') : undefined,
  };
}

/**
 * A group's DLQ on RabbitMQ. Reading is done with basic.get on a private channel and nothing acknowledged: closing
 * the channel returns every fetched message to the DLQ in its place.
 */
class RabbitDeadLetters implements DeadLetterQueue {
  readonly name: string;
  readonly #binder: RabbitBinder;
  readonly #groupQueue: string;

  constructor(binder: RabbitBinder, destination: string, group: string) {
    this.#binder = binder;
    this.name = deadLetterQueueName(destination, group);
    this.#groupQueue = groupQueueName(destination, group);
  }

  /** The DLQ's depth, or not_found when it was never declared. */
  async #depth(): Promise<number> {
    return await this.#binder.withChannel(async (ch) => {
      try {
        return (await ch.checkQueue(this.name)).messageCount;
      } catch (err) {
        throw new EventsError('not_found', `no dead-letter queue ${this.name} on the broker`, { cause: err });
      }
    });
  }

  /** Fetches up to `max` messages without acknowledging them; `visit` sees each. */
  async #scan(max: number, visit: (msg: GetMessage, ch: ConfirmChannel) => Promise<void> | void): Promise<void> {
    await this.#binder.withChannel(async (ch) => {
      for (let n = 0; n < max; n++) {
        const msg = await ch.get(this.name, { noAck: false });
        if (msg === false) return;
        await visit(msg, ch);
      }
    });
  }

  async list(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const depth = await this.#depth();
    const out: DeadLetter[] = [];
    await this.#scan(
      Math.min(depth, options.limit ?? 100),
      (msg) => void out.push(toDeadLetter(msg, this.#groupQueue)),
    );
    return out;
  }

  async show(id: string): Promise<DeadLetter> {
    const depth = await this.#depth();
    let found: DeadLetter | undefined;
    await this.#scan(depth, (msg) => {
      const letter = toDeadLetter(msg, this.#groupQueue);
      if (found === undefined && letter.id === id) found = letter;
    });
    if (found === undefined) throw new EventsError('not_found', `no dead letter ${id} in ${this.name}`);
    return found;
  }

  async replay(options: { ids?: readonly string[] } = {}): Promise<number> {
    const depth = await this.#depth();
    const wanted = options.ids === undefined ? undefined : new Set(options.ids);
    let replayed = 0;
    await this.#scan(depth, async (msg, ch) => {
      const letter = toDeadLetter(msg, this.#groupQueue);
      if (wanted !== undefined && !wanted.has(letter.id)) return;
      const headers = Object.fromEntries(Object.entries(letter.headers).filter(([k]) => !FAILURE_HEADERS.has(k)));
      // Through the default exchange straight to the queue it failed in (as Spring's DLQ re-routing sample does):
      // publishing to the destination's exchange again would hand it to every other group too.
      await new Promise<void>((resolve, reject) => {
        ch.sendToQueue(
          letter.queue,
          msg.content,
          { ...copyProperties(msg), deliveryMode: 2, headers },
          (err: unknown) => (err === null || err === undefined ? resolve() : reject(toError(err))),
        );
      });
      ch.ack(msg);
      replayed++;
    });
    return replayed;
  }

  async purge(): Promise<number> {
    await this.#depth();
    return await this.#binder.withChannel(async (ch) => (await ch.purgeQueue(this.name)).messageCount);
  }
}
