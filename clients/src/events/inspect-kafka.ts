// The Kafka binder's inspector: what kafka-topics, kafka-consumer-groups and kafka-console-consumer answer, asked of
// the broker with the admin API and read by offset (no group is joined, nothing is committed).
import type { Admin, Consumer as KafkaClientConsumer } from '@platformatic/kafka';
import { EventsError } from './errors.ts';
import {
  resolveTail,
  TailFeed,
  type EventInspector,
  type GroupDescription,
  type GroupPartition,
  type PartitionDescription,
  type ResolvedTail,
  type TailedMessage,
  type TailOptions,
  type TopicDescription,
  type TopicSummary,
} from './inspect.ts';
import { TopicReader, type Extent, type StoredRecord } from './kafka-reader.ts';
import { deadLetterTopic, HeaderDecoder } from './kafka-wire.ts';

/** What the inspector needs of the binder. */
export interface InspectHost {
  readonly admin: Admin;
  /** A consumer client that reads by offset and joins no group. */
  reader(): KafkaClientConsumer;
}

/** How long one read waits for a record before asking again (the feed's idle clock decides when a tail ends). */
const POLL_MS = 500;

/** Kafka's internal topics (offsets, transactions, share groups) start with `__`; the tools hide them by default. */
function isInternal(topic: string): boolean {
  return topic.startsWith('__');
}

function toNumber(offset: bigint | undefined): number | undefined {
  return offset === undefined ? undefined : Number(offset);
}

class KafkaInspector implements EventInspector {
  /** Kafka keeps and shows everything these questions ask. */
  readonly limits = {};
  readonly #host: InspectHost;
  readonly #decoder = new HeaderDecoder();

  constructor(host: InspectHost) {
    this.#host = host;
  }

  async #withReader<R>(topic: string, work: (reader: TopicReader) => Promise<R>): Promise<R> {
    const client = this.#host.reader();
    try {
      const reader = await TopicReader.open(client, topic);
      if (reader === undefined) throw new EventsError('not_found', `no topic ${topic} on the broker`);
      return await work(reader);
    } finally {
      await client.close(true).catch(() => undefined);
    }
  }

  /** Rejects with not_found before the client would ask a missing topic's metadata again for seconds. */
  async #mustExist(topic: string): Promise<void> {
    if (!(await this.#host.admin.listTopics()).includes(topic)) {
      throw new EventsError('not_found', `no topic ${topic} on the broker`);
    }
  }

  async topics(): Promise<TopicSummary[]> {
    const names = (await this.#host.admin.listTopics()).filter((t) => !isInternal(t)).sort();
    if (names.length === 0) return [];
    const metadata = await this.#host.admin.metadata({ topics: names, forceUpdate: true });
    return names.map((name) => ({ name, partitions: metadata.topics.get(name)?.partitionsCount }));
  }

  async describe(destination: string): Promise<TopicDescription> {
    await this.#mustExist(destination);
    const extent = await this.#withReader(destination, (reader) => reader.extent());
    const partitions: PartitionDescription[] = extent.end.map((end, partition) => {
      const start = extent.start[partition] ?? 0n;
      return { partition, startOffset: Number(start), endOffset: Number(end), messages: Number(end - start) };
    });
    return { name: destination, partitions, groups: await this.#groups(destination, extent) };
  }

  /** Every group that has committed offsets of the topic or has members assigned to it, with its lag per partition. */
  async #groups(destination: string, extent: Extent): Promise<GroupDescription[]> {
    const admin = this.#host.admin;
    const ids = [...(await admin.listGroups()).keys()].sort();
    if (ids.length === 0) return [];
    const [offsets, described, topics] = await Promise.all([
      admin.listConsumerGroupOffsets({ groups: ids }),
      admin.describeGroups({ groups: ids }),
      admin.listTopics(),
    ]);
    const out: GroupDescription[] = [];
    for (const id of ids) {
      const committed = new Map(
        (offsets.find((g) => g.groupId === id)?.topics ?? [])
          .filter((t) => t.name === destination)
          .flatMap((t) => t.partitions)
          .filter((p) => p.committedOffset >= 0n)
          .map((p) => [p.partitionIndex, p.committedOffset]),
      );
      const assigned = new Map<number, number>();
      for (const member of described.get(id)?.members.values() ?? []) {
        for (const partition of member.assignments?.get(destination)?.partitions ?? []) {
          assigned.set(partition, (assigned.get(partition) ?? 0) + 1);
        }
      }
      if (committed.size === 0 && assigned.size === 0) continue;
      const partitions: GroupPartition[] = extent.end.map((end, partition) => {
        const at = committed.get(partition);
        return {
          partition,
          lag: at === undefined ? undefined : Number(end - at),
          ...(at === undefined ? {} : { committedOffset: Number(at) }),
          endOffset: Number(end),
          consumers: assigned.get(partition) ?? 0,
        };
      });
      const dlq = deadLetterTopic(destination, id);
      out.push({ group: id, partitions, deadLetters: topics.includes(dlq) ? await this.#count(dlq) : undefined });
    }
    return out;
  }

  async #count(topic: string): Promise<number> {
    const extent = await this.#withReader(topic, (reader) => reader.extent());
    return extent.end.reduce((sum, end, p) => sum + Number(end - (extent.start[p] ?? 0n)), 0);
  }

  tail(destination: string, options: TailOptions = {}): AsyncIterable<TailedMessage> {
    const t = resolveTail(destination, options);
    const feed = new TailFeed<TailedMessage>({ idleMs: t.timeoutMs, signal: t.signal });
    void this.#follow(t, feed).catch((err: unknown) => feed.fail(err));
    return feed;
  }

  /** Reads from the chosen start until the feed ends, pushing records in each partition's order. */
  async #follow(t: ResolvedTail, feed: TailFeed<TailedMessage>): Promise<void> {
    await this.#mustExist(t.destination);
    const client = this.#host.reader();
    let open = true;
    feed.onEnd(async () => {
      open = false;
      await client.close(true).catch(() => undefined);
    });
    const reader = await TopicReader.open(client, t.destination);
    if (reader === undefined) throw new EventsError('not_found', `no topic ${t.destination} on the broker`);
    if (t.partition !== undefined && t.partition >= reader.partitions) {
      throw new EventsError('invalid_options', `${t.destination} has partitions 0..${reader.partitions - 1}`);
    }
    const positions = await this.#start(t, reader);
    feed.reading();
    while (open) {
      const records = await reader.read(positions, POLL_MS);
      if (!open) return;
      for (const record of records) feed.push(this.#tailed(record));
    }
  }

  /** Kafka's console consumer: the earliest offsets, a group's committed ones (earliest without), or the latest. */
  async #start(t: ResolvedTail, reader: TopicReader): Promise<Map<number, bigint>> {
    const extent = await reader.extent();
    const wanted = t.partition === undefined ? [...extent.end.keys()] : [t.partition];
    let committed = new Map<number, bigint>();
    if (t.group !== undefined) {
      const [group] = await this.#host.admin.listConsumerGroupOffsets({ groups: [t.group] });
      committed = new Map(
        (group?.topics ?? [])
          .filter((topic) => topic.name === t.destination)
          .flatMap((topic) => topic.partitions)
          .filter((p) => p.committedOffset >= 0n)
          .map((p) => [p.partitionIndex, p.committedOffset]),
      );
    }
    return new Map(
      wanted.map((p) => {
        const start = extent.start[p] ?? 0n;
        if (t.fromBeginning) return [p, start];
        if (t.group !== undefined) return [p, committed.get(p) ?? start];
        return [p, extent.end[p] ?? 0n];
      }),
    );
  }

  #tailed(record: StoredRecord): TailedMessage {
    return {
      partition: record.partition,
      offset: toNumber(record.offset),
      key: record.key === null ? undefined : record.key.toString('utf8'),
      timestamp: new Date(Number(record.timestamp)).toISOString(),
      headers: this.#decoder.decode(record.rawHeaders),
      payload: (record.value ?? Buffer.alloc(0)).toString('utf8'),
    };
  }
}

/**
 * The Kafka binder's inspector.
 *
 * @example
 * for await (const m of binder.inspect.tail('products', { fromBeginning: true, partition: 1, timeoutMs: 1000 })) {
 *   console.log(m.partition, m.offset, m.payload);
 * }
 */
export function createKafkaInspector(host: InspectHost): EventInspector {
  return new KafkaInspector(host);
}
