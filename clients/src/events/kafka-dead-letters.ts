// A group's dead letters on Kafka: the `error.<destination>.<group>` topic, read by offset without joining a group.
import type { Admin, Consumer as KafkaClientConsumer, MessageToProduce } from '@platformatic/kafka';
import { EventsError } from './errors.ts';
import { TopicReader, type Extent, type StoredRecord } from './kafka-reader.ts';
import {
  deadLetterTopic,
  DELIVERY_ID_HEADER,
  DLQ_HEADERS,
  HeaderDecoder,
  isFailureHeader,
  originOf,
  readDeadLetterHeader,
  recordId,
  REPLAY_GROUP_HEADER,
  type WireHeaders,
} from './kafka-wire.ts';
import type { DeadLetter, DeadLetterQueue } from './types.ts';

type Outgoing = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/** What the dead letters need of the binder. */
export interface DeadLetterHost {
  readonly admin: Admin;
  /** The topic's partition count, or undefined when it does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  /** A consumer client that reads by offset and joins no group. */
  reader(): KafkaClientConsumer;
  send(message: Outgoing): Promise<void>;
}

/**
 * Dead letters on Kafka. A log cannot drop single records, so replaying some of them rewrites the topic: the ones
 * kept are appended again (same partition, key and headers, hence the same ids) and everything up to the snapshot is
 * deleted. A replayed record goes back to its original topic and partition marked for this group only; other Trellis
 * groups skip it (a Spring consumer of another group would not).
 */
export class KafkaDeadLetters implements DeadLetterQueue {
  readonly name: string;
  readonly #binder: DeadLetterHost;
  readonly #destination: string;
  readonly #group: string;
  readonly #decoder = new HeaderDecoder();

  constructor(binder: DeadLetterHost, destination: string, group: string) {
    this.#binder = binder;
    this.#destination = destination;
    this.#group = group;
    this.name = deadLetterTopic(destination, group);
  }

  /** Opens the DLQ topic for reading, with its extent when the operation began (later dead letters are left be). */
  async #withReader<R>(work: (reader: TopicReader, extent: Extent) => Promise<R>): Promise<R> {
    const missing = (): EventsError => new EventsError('not_found', `no dead-letter topic ${this.name} on the broker`);
    // Listing first: the client asks a missing topic's metadata again for seconds before it gives up.
    if ((await this.#binder.partitionCount(this.name)) === undefined) throw missing();
    const client = this.#binder.reader();
    try {
      const reader = await TopicReader.open(client, this.name);
      if (reader === undefined) throw missing();
      return await work(reader, await reader.extent());
    } finally {
      await client.close(true).catch(() => undefined);
    }
  }

  #toDeadLetter(record: StoredRecord): DeadLetter {
    const headers: Record<string, unknown> = this.#decoder.decode(record.rawHeaders);
    for (const name of Object.values(DLQ_HEADERS)) {
      const raw = record.headers.get(name);
      if (raw !== undefined) headers[name] = readDeadLetterHeader(name, raw);
    }
    const origin = originOf(record.headers);
    const kept = record.headers.get(DELIVERY_ID_HEADER)?.toString('utf8');
    return {
      id:
        kept ??
        (origin === undefined
          ? recordId(this.name, record.partition, record.offset)
          : recordId(origin.topic, origin.partition, origin.offset)),
      queue: origin?.topic ?? this.#destination,
      payload: (record.value ?? Buffer.alloc(0)).toString('utf8'),
      headers,
      reason: record.headers.get(DLQ_HEADERS.exceptionMessage)?.toString('utf8'),
    };
  }

  async list(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    const limit = options.limit ?? 100;
    const out: DeadLetter[] = [];
    await this.#withReader(async (reader, extent) => {
      if (limit <= 0) return;
      await reader.scan(extent, (record) => out.push(this.#toDeadLetter(record)) < limit);
    });
    return out;
  }

  async show(id: string): Promise<DeadLetter> {
    let found: DeadLetter | undefined;
    await this.#withReader(async (reader, extent) => {
      await reader.scan(extent, (record) => {
        const letter = this.#toDeadLetter(record);
        if (letter.id === id) found = letter;
        return found === undefined;
      });
    });
    if (found === undefined) throw new EventsError('not_found', `no dead letter ${id} in ${this.name}`);
    return found;
  }

  async replay(options: { ids?: readonly string[] } = {}): Promise<number> {
    const wanted = options.ids === undefined ? undefined : new Set(options.ids);
    return await this.#withReader(async (reader, extent) => {
      const replayed: StoredRecord[] = [];
      const kept: StoredRecord[] = [];
      await reader.scan(extent, (record) => {
        const letter = this.#toDeadLetter(record);
        (wanted === undefined || wanted.has(letter.id) ? replayed : kept).push(record);
      });
      if (replayed.length === 0) return 0;
      await Promise.all(replayed.map((record) => this.#binder.send(this.#replayed(record))));
      await Promise.all(kept.map((record) => this.#binder.send(this.#copied(record))));
      await this.#deleteUpTo(extent);
      return replayed.length;
    });
  }

  /** The record as it first arrived, for this group only, keeping the id its handler saw. */
  #replayed(record: StoredRecord): Outgoing {
    const letter = this.#toDeadLetter(record);
    const headers: WireHeaders = new Map();
    for (const [name, value] of record.rawHeaders)
      if (!isFailureHeader(name.toString('utf8'))) headers.set(name, value);
    headers.set(Buffer.from(REPLAY_GROUP_HEADER), Buffer.from(this.#group));
    headers.set(Buffer.from(DELIVERY_ID_HEADER), Buffer.from(letter.id));
    const origin = originOf(record.headers);
    return {
      topic: letter.queue,
      ...(origin === undefined ? {} : { partition: origin.partition }),
      ...(record.key === null ? {} : { key: record.key }),
      value: record.value ?? Buffer.alloc(0),
      headers,
    };
  }

  /** The dead letter again at the end of its own partition, unchanged. */
  #copied(record: StoredRecord): Outgoing {
    return {
      topic: this.name,
      partition: record.partition,
      ...(record.key === null ? {} : { key: record.key }),
      value: record.value ?? Buffer.alloc(0),
      headers: new Map(record.rawHeaders),
    };
  }

  async #deleteUpTo(extent: Extent): Promise<void> {
    const partitions = extent.end
      .map((offset, partition) => ({ partition, offset }))
      .filter(({ partition, offset }) => offset > (extent.start[partition] ?? 0n));
    if (partitions.length === 0) return;
    await this.#binder.admin.deleteRecords({ topics: [{ name: this.name, partitions }] });
  }

  async purge(): Promise<number> {
    return await this.#withReader(async (_reader, extent) => {
      await this.#deleteUpTo(extent);
      return extent.end.reduce((sum, end, p) => sum + Number(end - (extent.start[p] ?? 0n)), 0);
    });
  }
}
