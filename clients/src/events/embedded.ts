// The embedded binder: one SQLite file under the data directory standing in for a broker on a single machine. It
// mirrors RabbitMQ's model (a destination routes to bound queues by key; a consumer leases messages and acknowledges
// them) so the same names, groups, partitions, retries and dead letters behave the same without a broker. Several
// processes may open the file at once: SQLite serializes the writers, and one UPDATE … RETURNING claims a message
// for exactly one consumer. Like Kafka, it also keeps what was published to each destination for a while (the log),
// which `trellis events tail --from-beginning` reads.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  currentObservability,
  openSqlite,
  type Health,
  type Logger,
  type Observability,
  type SqliteDatabase,
} from '@trellis/kit';
import { EventsError } from './errors.ts';
import { createEmbeddedInspector, LOG_SCHEMA, settle } from './inspect-embedded.ts';
import { partitionHeaderOf, type EventInspector } from './inspect.ts';
import {
  ALL_KEYS,
  anonymousQueueName,
  checkName,
  deadLetterQueueName,
  DLX,
  EXCEPTION_HEADERS,
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

export interface EmbeddedBinderOptions {
  /** The data directory; the binder keeps `events.sqlite` in it. */
  readonly dataDir: string;
  /** File name inside the data directory. Default `events.sqlite`. */
  readonly fileName?: string;
  readonly logger?: Logger;
  /** How often an idle consumer looks for messages other processes sent. Default 50 ms. */
  readonly pollIntervalMs?: number;
  /**
   * How long a claimed message stays invisible to other consumers; renewed while its handler runs, so it only
   * expires when the consuming process died, and then the message is delivered again. Default 30 s.
   */
  readonly leaseMs?: number;
  /** How long the log keeps a published message for inspection. Default 7 days (Kafka's log.retention.hours). */
  readonly retentionMs?: number;
  /** Meters and tracer to record into. Default: the scope's (`currentObservability()`) when the binder is made. */
  readonly observability?: Observability;
}

interface Row {
  readonly seq: number;
  readonly queue: string;
  readonly delivery_id: string;
  readonly exchange: string;
  readonly routing_key: string;
  readonly headers: string;
  readonly body: Buffer;
  readonly deliveries: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bindings (
  queue TEXT NOT NULL,
  source TEXT NOT NULL,
  binding_key TEXT NOT NULL,
  expires_at INTEGER,            -- NULL for durable queues; anonymous ones expire unless their consumer renews them
  PRIMARY KEY (queue, source, binding_key)
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  exchange TEXT NOT NULL,
  routing_key TEXT NOT NULL,
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  deliveries INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue, lease_until, seq);
${LOG_SCHEMA}`;

const FAILURE_HEADERS = new Set<string>(Object.values(EXCEPTION_HEADERS));

class EmbeddedConsumer<T> implements Consumer {
  readonly queue: string;
  readonly #binder: EmbeddedBinder;
  readonly #c: ResolvedConsumer<T>;
  readonly #owner = randomUUID();
  readonly #pool: WorkPool<Row>;
  readonly #abort = new AbortController();
  readonly #inHand = new Set<number>();
  readonly #observer: ConsumerObserver | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  #loop: Promise<void> | undefined;
  #renewal: NodeJS.Timeout | undefined;

  constructor(binder: EmbeddedBinder, c: ResolvedConsumer<T>) {
    this.#binder = binder;
    this.#c = c;
    this.queue = consumerQueue(c) ?? anonymousQueueName(c.destination);
    this.#pool = new WorkPool(c.concurrency, (row) => this.#handle(row));
    this.#observer = binder.observation.consumer(c.destination, c.group);
  }

  start(): void {
    const c = this.#c;
    const b = this.#binder;
    if (c.group === undefined) {
      b.bind(this.queue, c.destination, ALL_KEYS, Date.now() + b.leaseMs);
    } else {
      const key = c.instanceIndex === undefined ? ALL_KEYS : partitionRoutingKey(c.destination, c.instanceIndex);
      b.bindGroupQueue(c.destination, c.group, this.queue, key, c.deadLetter);
    }
    this.#renewal = setInterval(() => this.#renew(), Math.max(10, Math.floor(b.leaseMs / 3)));
    this.#renewal.unref();
    this.#loop = this.#run();
  }

  notify(): void {
    this.#wake?.();
  }

  async #run(): Promise<void> {
    const b = this.#binder;
    while (!this.#closed) {
      try {
        while (!this.#closed && this.#pool.size < this.#c.prefetch) {
          const row = b.claim(this.queue, this.#owner);
          if (row === undefined) break;
          this.#inHand.add(row.seq);
          this.#pool.push(row);
        }
      } catch (err) {
        b.log?.warn({ err, queue: this.queue }, 'could not read the embedded event store; retrying');
      }
      await new Promise<void>((resolve) => {
        let timer: NodeJS.Timeout | undefined = undefined;
        const done = (): void => {
          clearTimeout(timer);
          this.#wake = undefined;
          resolve();
        };
        timer = setTimeout(done, b.pollIntervalMs);
        this.#wake = done;
      });
    }
  }

  /** Keeps the leases of messages in hand (and an anonymous queue's binding) alive while this process runs. */
  #renew(): void {
    const b = this.#binder;
    try {
      b.renew([...this.#inHand], this.#owner);
      if (this.#c.group === undefined) b.bind(this.queue, this.#c.destination, ALL_KEYS, Date.now() + b.leaseMs);
    } catch (err) {
      b.log?.warn({ err, queue: this.queue }, 'could not renew leases');
    }
  }

  async #handle(row: Row): Promise<void> {
    const b = this.#binder;
    const inbound = {
      body: row.body,
      headers: JSON.parse(row.headers) as Record<string, unknown>,
      deliveryId: row.delivery_id,
      redelivered: row.deliveries > 1,
    };
    const observer = this.#observer;
    const outcome = await (observer === undefined
      ? runHandler(this.#c, inbound, this.#abort.signal)
      : observer.run(inbound.headers, recordGetter, () => runHandler(this.#c, inbound, this.#abort.signal)));
    try {
      switch (outcome.kind) {
        case 'done':
          b.ack(row.seq, this.#owner);
          break;
        case 'abandoned':
          b.release(row.seq, this.#owner);
          break;
        case 'dead':
          if (
            b.deadLetter(row, this.#owner, this.#c.deadLetter ? this.#c.destination : undefined, this.#c.group, {
              [EXCEPTION_HEADERS.message]: outcome.reason,
              [EXCEPTION_HEADERS.stacktrace]: outcome.stacktrace,
              [EXCEPTION_HEADERS.originalExchange]: row.exchange,
              [EXCEPTION_HEADERS.originalRoutingKey]: row.routing_key,
            })
          ) {
            this.#observer?.deadLettered();
          }
          if (this.#c.deadLetter) {
            b.log?.warn({ queue: this.queue, reason: outcome.reason }, 'message moved to the dead-letter queue');
          } else {
            b.log?.error({ queue: this.queue, reason: outcome.reason }, 'message failed; dropped (no DLQ)');
          }
          break;
      }
    } catch (err) {
      // The lease runs out and the message is delivered again: at-least-once, never lost.
      b.log?.warn({ err, queue: this.queue }, 'could not settle a message; it will be redelivered');
    } finally {
      this.#inHand.delete(row.seq);
      this.notify();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.notify();
    await this.#loop;
    this.#abort.abort();
    await this.#pool.idle();
    clearInterval(this.#renewal);
    if (this.#c.group === undefined) this.#binder.dropQueue(this.queue);
    this.#binder.forget(this);
  }
}

class EmbeddedBinder implements EventBinder {
  readonly kind = 'embedded';
  readonly log: Logger | undefined;
  readonly pollIntervalMs: number;
  readonly leaseMs: number;
  readonly file: string;
  readonly inspect: EventInspector;
  readonly observation: BinderObservation;
  readonly #retentionMs: number;
  #prunedAt = 0;
  readonly #db: SqliteDatabase;
  readonly #consumers = new Set<EmbeddedConsumer<unknown>>();
  readonly #stmts;
  #closed = false;

  constructor(options: EmbeddedBinderOptions) {
    this.log = options.logger;
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.#retentionMs = options.retentionMs ?? 7 * 24 * 3600_000;
    this.observation = new BinderObservation('embedded', options.observability ?? currentObservability());
    mkdirSync(options.dataDir, { recursive: true });
    this.file = join(options.dataDir, options.fileName ?? 'events.sqlite');
    this.#db = openSqlite(this.file, { wal: true });
    // Another process may hold the write lock for a moment; wait for it instead of failing.
    this.#db.pragma('busy_timeout = 5000');
    // Durable across a crash of any process; a power cut may lose the last transactions (WAL with NORMAL sync).
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    const db = this.#db;
    this.#stmts = {
      bind: db.prepare(
        `INSERT INTO bindings (queue, source, binding_key, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (queue, source, binding_key) DO UPDATE SET expires_at = excluded.expires_at`,
      ),
      targets: db.prepare<[string, string, number], { queue: string }>(
        `SELECT DISTINCT queue FROM bindings
         WHERE source = ? AND (binding_key = '#' OR binding_key = ?) AND (expires_at IS NULL OR expires_at > ?)`,
      ),
      insert: db.prepare(
        `INSERT INTO messages (queue, delivery_id, exchange, routing_key, headers, body) VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      claim: db.prepare<[number, string, string, number], Row>(
        `UPDATE messages SET lease_until = ?, lease_owner = ?, deliveries = deliveries + 1
         WHERE seq = (SELECT seq FROM messages WHERE queue = ? AND lease_until < ? ORDER BY seq LIMIT 1)
         RETURNING seq, queue, delivery_id, exchange, routing_key, headers, body, deliveries`,
      ),
      ack: db.prepare(`DELETE FROM messages WHERE seq = ? AND lease_owner = ?`),
      release: db.prepare(`UPDATE messages SET lease_until = 0, lease_owner = NULL WHERE seq = ? AND lease_owner = ?`),
      renew: db.prepare(`UPDATE messages SET lease_until = ? WHERE seq = ? AND lease_owner = ?`),
      dropQueue: db.prepare(`DELETE FROM messages WHERE queue = ?`),
      dropBindings: db.prepare(`DELETE FROM bindings WHERE queue = ?`),
      expired: db.prepare<[number], { queue: string }>(
        `SELECT DISTINCT queue FROM bindings WHERE expires_at IS NOT NULL AND expires_at <= ?`,
      ),
      hasQueue: db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM bindings WHERE queue = ?`),
      list: db.prepare<[string, number], Row>(
        `SELECT seq, queue, delivery_id, exchange, routing_key, headers, body, deliveries
         FROM messages WHERE queue = ? ORDER BY seq LIMIT ?`,
      ),
      byId: db.prepare<[string, string], Row>(
        `SELECT seq, queue, delivery_id, exchange, routing_key, headers, body, deliveries
         FROM messages WHERE queue = ? AND delivery_id = ? ORDER BY seq LIMIT 1`,
      ),
      delete: db.prepare(`DELETE FROM messages WHERE seq = ?`),
      log: db.prepare(
        `INSERT INTO log (destination, routing_key, partition, headers, body, published_at) VALUES (?, ?, ?, ?, ?, ?)`,
      ),
      prune: db.prepare(`DELETE FROM log WHERE published_at < ?`),
    };
    this.#sweep();
    this.inspect = createEmbeddedInspector({ db, file: this.file, pollIntervalMs: this.pollIntervalMs });
  }

  /** Removes anonymous queues whose process went away without closing them. */
  #sweep(): void {
    const tx = this.#db.transaction((now: number) => {
      for (const { queue } of this.#stmts.expired.all(now)) {
        this.#stmts.dropQueue.run(queue);
        this.#stmts.dropBindings.run(queue);
      }
    });
    tx(Date.now());
    this.#prune();
  }

  /** Drops log entries past retention, at most once a minute (a publish calls it). */
  #prune(now = Date.now()): void {
    if (now - this.#prunedAt < 60_000) return;
    this.#prunedAt = now;
    this.#stmts.prune.run(now - this.#retentionMs);
  }

  #check(): void {
    if (this.#closed) throw new EventsError('closed', 'the event binder is closed');
  }

  bind(queue: string, source: string, key: string, expiresAt: number | null): void {
    this.#stmts.bind.run(queue, source, key, expiresAt);
  }

  bindGroupQueue(destination: string, group: string, queue: string, key: string, deadLetter: boolean): void {
    this.#db.transaction(() => {
      this.bind(queue, destination, key, null);
      if (deadLetter) this.bind(deadLetterQueueName(destination, group), DLX, queue, null);
    })();
  }

  /** Routes a message like a topic exchange whose bindings are `#` or an exact key, in one transaction. */
  publish(destination: string, routingKey: string, headers: Record<string, unknown>, body: Buffer): void {
    this.#check();
    const id = randomUUID();
    const json = JSON.stringify(headers);
    const now = Date.now();
    const queues = this.#db.transaction(() => {
      const targets = this.#stmts.targets.all(destination, routingKey, now);
      for (const { queue } of targets) this.#stmts.insert.run(queue, id, destination, routingKey, json, body);
      this.#stmts.log.run(destination, routingKey, partitionHeaderOf(headers) ?? null, json, body, now);
      return targets.map((t) => t.queue);
    })();
    this.#prune(now);
    for (const c of this.#consumers) if (queues.includes(c.queue)) c.notify();
  }

  claim(queue: string, owner: string): Row | undefined {
    const now = Date.now();
    return this.#stmts.claim.get(now + this.leaseMs, owner, queue, now);
  }

  ack(seq: number, owner: string): void {
    this.#stmts.ack.run(seq, owner);
  }

  release(seq: number, owner: string): void {
    this.#stmts.release.run(seq, owner);
  }

  renew(seqs: readonly number[], owner: string): void {
    if (seqs.length === 0 || this.#closed) return;
    const until = Date.now() + this.leaseMs;
    this.#db.transaction(() => {
      for (const seq of seqs) this.#stmts.renew.run(until, seq, owner);
    })();
  }

  /**
   * Moves a failed message to its group's DLQ (keyed by the queue it failed in), or drops it without one; answers
   * whether it went to the DLQ. Its headers, trace headers included, go with it.
   */
  deadLetter(
    row: Row,
    owner: string,
    destination: string | undefined,
    group: string | undefined,
    failure: Record<string, string>,
  ): boolean {
    return this.#db.transaction((): boolean => {
      if (this.#stmts.ack.run(row.seq, owner).changes !== 1) return false; // the lease was lost: someone else has it now
      if (destination === undefined || group === undefined) return false;
      const headers = { ...(JSON.parse(row.headers) as Record<string, unknown>), ...failure };
      this.#stmts.insert.run(
        deadLetterQueueName(destination, group),
        row.delivery_id,
        DLX,
        row.queue,
        JSON.stringify(headers),
        row.body,
      );
      return true;
    })();
  }

  dropQueue(queue: string): void {
    if (this.#closed) return;
    this.#db.transaction(() => {
      this.#stmts.dropQueue.run(queue);
      this.#stmts.dropBindings.run(queue);
    })();
  }

  forget(consumer: EmbeddedConsumer<never>): void {
    this.#consumers.delete(consumer as EmbeddedConsumer<unknown>);
  }

  async producer<T>(options: ProducerOptions<T>): Promise<Producer<T>> {
    this.#check();
    const p = resolveProducer(options);
    for (const group of p.requiredGroups) {
      if (p.partitionKey === undefined) {
        this.bindGroupQueue(p.destination, group, groupQueueName(p.destination, group), ALL_KEYS, p.deadLetter);
      } else {
        for (let i = 0; i < p.partitionCount; i++) {
          const queue = groupQueueName(p.destination, group, i);
          this.bindGroupQueue(p.destination, group, queue, partitionRoutingKey(p.destination, i), p.deadLetter);
        }
      }
    }
    const observer = this.observation.producer(p.destination);
    const make = (payload: T, sendOptions: SendOptions, writeTrace?: TraceWriter) => {
      const body = encodePayload(payload);
      const r = route(p, payload, sendOptions.headers ?? {});
      const headers: Record<string, unknown> = { contentType: 'application/json', ...r.headers };
      writeTrace?.(headers, recordSetter);
      return { routingKey: r.routingKey, headers, body };
    };
    const publish = (m: ReturnType<typeof make>): void => this.publish(p.destination, m.routingKey, m.headers, m.body);
    const deliver = (m: ReturnType<typeof make>): Promise<void> => settle(() => publish(m));
    return Promise.resolve({
      destination: p.destination,
      send: (payload, sendOptions = {}) =>
        observer === undefined
          ? settle(() => publish(make(payload, sendOptions)))
          : observer.send((writeTrace) => make(payload, sendOptions, writeTrace), deliver),
    });
  }

  async consume<T>(options: ConsumerOptions<T>): Promise<Consumer> {
    this.#check();
    const consumer = new EmbeddedConsumer(this, resolveConsumer(options));
    this.#consumers.add(consumer as EmbeddedConsumer<unknown>);
    consumer.start();
    return Promise.resolve(consumer);
  }

  deadLetters(destination: string, group: string): DeadLetterQueue {
    const name = deadLetterQueueName(checkName('destination', destination), checkName('group', group));
    const fallbackQueue = groupQueueName(destination, group);
    const existing = (): void => {
      this.#check();
      if ((this.#stmts.hasQueue.get(name)?.n ?? 0) === 0) {
        throw new EventsError('not_found', `no dead-letter queue ${name} in ${this.file}`);
      }
    };
    const toLetter = (row: Row): DeadLetter => {
      const headers = JSON.parse(row.headers) as Record<string, unknown>;
      const reason = headers[EXCEPTION_HEADERS.message];
      return {
        id: row.delivery_id,
        queue: row.routing_key === '' ? fallbackQueue : row.routing_key,
        payload: row.body.toString('utf8'),
        headers,
        reason: typeof reason === 'string' ? reason : undefined,
      };
    };
    return {
      name,
      list: ({ limit = 100 } = {}) =>
        settle(() => {
          existing();
          return this.#stmts.list.all(name, limit).map(toLetter);
        }),
      show: (id) =>
        settle(() => {
          existing();
          const row = this.#stmts.byId.get(name, id);
          if (row === undefined) throw new EventsError('not_found', `no dead letter ${id} in ${name}`);
          return toLetter(row);
        }),
      replay: ({ ids } = {}) =>
        settle(() => {
          existing();
          const wanted = ids === undefined ? undefined : new Set(ids);
          const woken = new Set<string>();
          const count = this.#db.transaction(() => {
            let n = 0;
            for (const row of this.#stmts.list.all(name, Number.MAX_SAFE_INTEGER)) {
              if (wanted !== undefined && !wanted.has(row.delivery_id)) continue;
              const letter = toLetter(row);
              const headers = Object.fromEntries(
                Object.entries(letter.headers).filter(([k]) => !FAILURE_HEADERS.has(k)),
              );
              const original = letter.headers[EXCEPTION_HEADERS.originalRoutingKey];
              const originalExchange = letter.headers[EXCEPTION_HEADERS.originalExchange];
              // Delete and insert rather than update: a replayed message joins the end of its queue, as on RabbitMQ.
              this.#stmts.delete.run(row.seq);
              this.#stmts.insert.run(
                letter.queue,
                row.delivery_id,
                typeof originalExchange === 'string' ? originalExchange : destination,
                typeof original === 'string' ? original : destination,
                JSON.stringify(headers),
                row.body,
              );
              woken.add(letter.queue);
              n++;
            }
            return n;
          })();
          for (const c of this.#consumers) if (woken.has(c.queue)) c.notify();
          return count;
        }),
      purge: () =>
        settle(() => {
          existing();
          return this.#stmts.dropQueue.run(name).changes;
        }),
    };
  }

  readonly health = (): Health => {
    const details = { binder: 'embedded', file: this.file };
    if (this.#closed) return { status: 'DOWN', details: { ...details, reason: 'binder closed' } };
    try {
      this.#db.prepare('SELECT 1').get();
      return { status: 'UP', details };
    } catch (err) {
      return { status: 'DOWN', details: { ...details, reason: (err as Error).message } };
    }
  };

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#consumers].map((c) => c.close()));
    this.#closed = true;
    this.#db.close();
  }
}

/**
 * Opens the embedded binder: events through a SQLite file under the data directory, for a landscape on one machine
 * without a broker. Several processes can share the file; groups, partitions, retries and dead letters behave as on
 * RabbitMQ, with the same queue names.
 *
 * @example
 * const binder = createEmbeddedBinder({ dataDir: './data' });
 * await binder.consume<ProductEvent>({ destination: 'products', group: 'productsGroup', handler: onProductEvent });
 */
export function createEmbeddedBinder(options: EmbeddedBinderOptions): EventBinder {
  return new EmbeddedBinder(options);
}
