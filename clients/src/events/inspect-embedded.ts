// The embedded binder's inspector: destinations, partitions and group queues read from its SQLite file, and tails
// read from its log (what was published, kept for a while as Kafka keeps a topic), so it can re-read from the start.
import type { SqliteDatabase } from '@trellis/kit';
import { EventsError } from './errors.ts';
import { ALL_KEYS, deadLetterQueueName, DLX, partitionRoutingKey } from './naming.ts';
import {
  partitionHeaderOf,
  resolveTail,
  TailFeed,
  type EventInspector,
  type GroupDescription,
  type GroupPartition,
  type PartitionDescription,
  type ResolvedTail,
  type TailedMessage,
  type TopicDescription,
  type TopicSummary,
} from './inspect.ts';

/** The log: every message published to a destination, whichever queues it went to (or none), until retention. */
export const LOG_SCHEMA = `
CREATE TABLE IF NOT EXISTS log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  routing_key TEXT NOT NULL,
  partition INTEGER,             -- scst_partition; NULL when the producer did not partition (read as partition 0)
  headers TEXT NOT NULL,
  body BLOB NOT NULL,
  published_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_destination ON log (destination, seq);
CREATE INDEX IF NOT EXISTS log_by_age ON log (published_at);
`;

export interface EmbeddedInspectorOptions {
  readonly db: SqliteDatabase;
  readonly file: string;
  /** How often a tail looks for new messages. */
  readonly pollIntervalMs: number;
}

interface Binding {
  readonly queue: string;
  readonly source: string;
  readonly binding_key: string;
}

interface LogRow {
  readonly seq: number;
  readonly partition: number | null;
  readonly headers: string;
  readonly body: Buffer;
  readonly published_at: number;
}

interface QueuedRow {
  readonly routing_key: string;
  readonly headers: string;
  readonly body: Buffer;
}

/** A group's reading of a destination, recovered from a queue's name and binding key (see naming.ts). */
interface GroupQueue {
  readonly group: string;
  readonly partition: number | undefined;
  readonly queue: string;
}

/** `<destination>.<group>` bound with `#`, or `<destination>.<group>-<n>` bound with `<destination>-<n>`. */
function groupQueueOf(destination: string, b: Binding): GroupQueue | undefined {
  const prefix = `${destination}.`;
  if (!b.queue.startsWith(prefix)) return undefined;
  const rest = b.queue.slice(prefix.length);
  if (b.binding_key === ALL_KEYS) return { group: rest, partition: undefined, queue: b.queue };
  const match = /^(.+)-(\d+)$/.exec(rest);
  if (match === null) return undefined;
  const partition = Number(match[2]);
  if (b.binding_key !== partitionRoutingKey(destination, partition)) return undefined;
  return { group: match[1] ?? '', partition, queue: b.queue };
}

/** The partition a routing key names (`<destination>-<n>`), for messages without `scst_partition`. */
function partitionOfKey(destination: string, routingKey: string): number | undefined {
  const match = /^(.*)-(\d+)$/.exec(routingKey);
  return match !== null && match[1] === destination ? Number(match[2]) : undefined;
}

function highest(values: readonly (number | undefined)[]): number | undefined {
  const defined = values.filter((v): v is number => v !== undefined);
  return defined.length === 0 ? undefined : Math.max(...defined);
}

function fromLog(row: LogRow): TailedMessage {
  return {
    partition: row.partition ?? 0,
    offset: row.seq,
    timestamp: new Date(row.published_at).toISOString(),
    headers: JSON.parse(row.headers) as Record<string, unknown>,
    payload: row.body.toString('utf8'),
  };
}

class EmbeddedInspector implements EventInspector {
  // It sees everything it keeps; its offsets are the log's sequence numbers, shared by all destinations.
  readonly limits = {};
  readonly #db: SqliteDatabase;
  readonly #file: string;
  readonly #pollIntervalMs: number;
  readonly #stmts;

  constructor(options: EmbeddedInspectorOptions) {
    this.#db = options.db;
    this.#file = options.file;
    this.#pollIntervalMs = options.pollIntervalMs;
    const db = options.db;
    this.#stmts = {
      bindings: db.prepare<[number], Binding>(
        `SELECT queue, source, binding_key FROM bindings WHERE expires_at IS NULL OR expires_at > ? ORDER BY queue`,
      ),
      logged: db.prepare<[], { destination: string; top: number }>(
        `SELECT destination, max(coalesce(partition, 0)) AS top FROM log GROUP BY destination`,
      ),
      logPartitions: db.prepare<[string], { partition: number; messages: number }>(
        `SELECT coalesce(partition, 0) AS partition, count(*) AS messages FROM log WHERE destination = ? GROUP BY 1`,
      ),
      depth: db.prepare<[number, string], { messages: number; leased: number }>(
        `SELECT count(*) AS messages, coalesce(sum(lease_until > ?), 0) AS leased FROM messages WHERE queue = ?`,
      ),
      lastSeq: db.prepare<[], { seq: number | null }>(`SELECT max(seq) AS seq FROM log`),
      after: db.prepare<[string, number, number | null, number | null], LogRow>(
        `SELECT seq, partition, headers, body, published_at FROM log
         WHERE destination = ? AND seq > ? AND (? IS NULL OR coalesce(partition, 0) = ?) ORDER BY seq LIMIT 500`,
      ),
      queued: db.prepare<[string], QueuedRow>(
        `SELECT routing_key, headers, body FROM messages WHERE queue = ? ORDER BY seq`,
      ),
    };
  }

  #bindings(): Binding[] {
    return this.#stmts.bindings.all(Date.now());
  }

  topics(): Promise<TopicSummary[]> {
    return settle(() => {
      const top = new Map<string, number | undefined>();
      for (const b of this.#bindings()) {
        if (b.source === DLX) continue;
        const partition = groupQueueOf(b.source, b)?.partition;
        top.set(b.source, highest([top.get(b.source), partition]));
      }
      for (const { destination, top: logged } of this.#stmts.logged.all()) {
        top.set(destination, highest([top.get(destination), logged]));
      }
      return [...top.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, highestPartition]) => ({ name, partitions: (highestPartition ?? 0) + 1 }));
    });
  }

  describe(destination: string): Promise<TopicDescription> {
    return settle(() => {
      const bindings = this.#bindings();
      const queues = bindings
        .filter((b) => b.source === destination)
        .map((b) => groupQueueOf(destination, b))
        .filter((q): q is GroupQueue => q !== undefined);
      const logged = this.#stmts.logPartitions.all(destination);
      if (queues.length === 0 && logged.length === 0) {
        throw new EventsError('not_found', `no destination ${destination} in ${this.#file}`);
      }
      const count = (highest([...queues.map((q) => q.partition), ...logged.map((l) => l.partition)]) ?? 0) + 1;
      const partitions: PartitionDescription[] = Array.from({ length: count }, (_, partition) => ({
        partition,
        messages: logged.find((l) => l.partition === partition)?.messages ?? 0,
      }));
      const deadLetterQueues = new Set(bindings.filter((b) => b.source === DLX).map((b) => b.queue));
      const groups = new Map<string, GroupPartition[]>();
      for (const q of queues) groups.set(q.group, [...(groups.get(q.group) ?? []), this.#groupPartition(q)]);
      const described: GroupDescription[] = [...groups.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([group, states]) => {
          const dlq = deadLetterQueueName(destination, group);
          return {
            group,
            partitions: states.sort((a, b) => (a.partition ?? -1) - (b.partition ?? -1)),
            deadLetters: deadLetterQueues.has(dlq) ? this.#stmts.depth.get(0, dlq)?.messages : undefined,
          };
        });
      return { name: destination, partitions, groups: described };
    });
  }

  #groupPartition(q: GroupQueue): GroupPartition {
    const depth = this.#stmts.depth.get(Date.now(), q.queue);
    return { partition: q.partition, queue: q.queue, lag: depth?.messages ?? 0, inFlight: depth?.leased ?? 0 };
  }

  tail(destination: string, options = {}): AsyncIterable<TailedMessage> {
    const t = resolveTail(destination, options);
    const feed = new TailFeed<TailedMessage>({ idleMs: t.timeoutMs, signal: t.signal });
    try {
      const start = this.#db.transaction(() => this.#start(t, feed))();
      this.#follow(t, feed, start);
      feed.reading();
    } catch (err) {
      feed.fail(err);
    }
    return feed;
  }

  /** Where a tail starts in the log; a group's waiting messages go first, read in the same transaction. */
  #start(t: ResolvedTail, feed: TailFeed<TailedMessage>): number {
    const bound = this.#bindings().some((b) => b.source === t.destination);
    if (!bound && this.#stmts.logPartitions.all(t.destination).length === 0) {
      throw new EventsError('not_found', `no destination ${t.destination} in ${this.#file}`);
    }
    if (t.fromBeginning) return 0;
    const last = this.#stmts.lastSeq.get()?.seq ?? 0;
    if (t.group !== undefined) for (const message of this.#waiting(t)) feed.push(message);
    return last;
  }

  /** The messages a group's queues hold (those its consumers have not settled), left where they are. */
  #waiting(t: ResolvedTail): TailedMessage[] {
    const group = t.group ?? '';
    const queues = this.#bindings()
      .filter((b) => b.source === t.destination)
      .map((b) => groupQueueOf(t.destination, b))
      .filter((q): q is GroupQueue => q?.group === group);
    if (queues.length === 0) {
      throw new EventsError('not_found', `no group ${group} reads ${t.destination} in ${this.#file}`);
    }
    const wanted = queues.filter((q) => t.partition === undefined || (q.partition ?? 0) === t.partition);
    return wanted.flatMap((q) =>
      this.#stmts.queued.all(q.queue).map((row) => {
        const headers = JSON.parse(row.headers) as Record<string, unknown>;
        return {
          partition: partitionHeaderOf(headers) ?? partitionOfKey(t.destination, row.routing_key) ?? 0,
          offset: undefined,
          timestamp: undefined,
          headers,
          payload: row.body.toString('utf8'),
        };
      }),
    );
  }

  /** Polls the log after `cursor` until the feed ends. */
  #follow(t: ResolvedTail, feed: TailFeed<TailedMessage>, cursor: number): void {
    let timer: NodeJS.Timeout | undefined;
    let ended = false;
    feed.onEnd(() => {
      ended = true;
      clearTimeout(timer);
    });
    const partition = t.partition ?? null;
    const poll = (): void => {
      if (ended) return;
      try {
        let rows: LogRow[];
        do {
          rows = this.#stmts.after.all(t.destination, cursor, partition, partition);
          for (const row of rows) feed.push(fromLog(row));
          cursor = rows.at(-1)?.seq ?? cursor;
        } while (rows.length > 0 && !ended);
      } catch (err) {
        feed.fail(err);
        return;
      }
      timer = setTimeout(poll, this.#pollIntervalMs);
    };
    poll();
  }
}

/** The inspector of an embedded binder's file. */
export function createEmbeddedInspector(options: EmbeddedInspectorOptions): EventInspector {
  return new EmbeddedInspector(options);
}

/** Runs synchronous SQLite work behind the Promise interface every binder shares, turning a throw into a rejection. */
export function settle<R>(work: () => R): Promise<R> {
  try {
    return Promise.resolve(work());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
