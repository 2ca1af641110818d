// Reading a topic by offset, outside any consumer group: what Kafka's console consumer does with --partition/--offset,
// used for dead letters (list, replay) and for tails. Nothing is committed and no group is joined.
import type { Consumer as KafkaClientConsumer } from '@platformatic/kafka';

/** One record as read from the log. */
export interface StoredRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** By name; a name repeated keeps its last value. */
  readonly headers: ReadonlyMap<string, Buffer>;
  readonly rawHeaders: readonly (readonly [Buffer, Buffer])[];
}

const IS_CONTROL_BATCH = 0x20;
const EMPTY = Buffer.alloc(0);

/** Per partition, the start (earliest kept) and end (next to be written) offsets, in partition order. */
export interface Extent {
  readonly start: readonly bigint[];
  readonly end: readonly bigint[];
}

/**
 * A topic read by offset with a client that joins no group. `positions` says where each partition is read next and
 * moves on as records come; partitions left out are not read.
 */
export class TopicReader {
  readonly topic: string;
  readonly #client: KafkaClientConsumer;
  readonly #topicId: string;
  readonly #leaders: readonly number[];

  private constructor(client: KafkaClientConsumer, topic: string, topicId: string, leaders: readonly number[]) {
    this.#client = client;
    this.topic = topic;
    this.#topicId = topicId;
    this.#leaders = leaders;
  }

  /** Undefined when the topic does not exist. */
  static async open(client: KafkaClientConsumer, topic: string): Promise<TopicReader | undefined> {
    const metadata = await client.metadata({ topics: [topic], forceUpdate: true });
    const found = metadata.topics.get(topic);
    if (found === undefined) return undefined;
    return new TopicReader(
      client,
      topic,
      found.id,
      found.partitions.map((p) => p.leader),
    );
  }

  get partitions(): number {
    return this.#leaders.length;
  }

  async extent(): Promise<Extent> {
    const [start, end] = await Promise.all([
      this.#client.listOffsets({ topics: [this.topic], timestamp: -2n }),
      this.#client.listOffsets({ topics: [this.topic], timestamp: -1n }),
    ]);
    return { start: start.get(this.topic) ?? [], end: end.get(this.topic) ?? [] };
  }

  /**
   * The next records of the partitions in `positions` (one request per leader), moving each position past what it
   * read. Waits up to `maxWaitMs` for a record when none is there yet.
   */
  async read(positions: Map<number, bigint>, maxWaitMs: number): Promise<StoredRecord[]> {
    const byLeader = new Map<number, number[]>();
    for (const partition of positions.keys()) {
      const leader = this.#leaders[partition] ?? 0;
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
    }
    const responses = await Promise.all(
      [...byLeader].map(([node, partitions]) =>
        this.#client.fetch({
          node,
          maxWaitTime: maxWaitMs,
          topics: [
            {
              topicId: this.#topicId,
              partitions: partitions.map((partition) => ({
                partition,
                fetchOffset: positions.get(partition) ?? 0n,
                partitionMaxBytes: 4 << 20,
                currentLeaderEpoch: -1,
                lastFetchedEpoch: -1,
              })),
            },
          ],
        }),
      ),
    );
    const out: StoredRecord[] = [];
    for (const p of responses.flatMap((r) => r.responses).flatMap((t) => t.partitions)) {
      const from = positions.get(p.partitionIndex);
      if (from === undefined) continue;
      let next = from;
      for (const batch of p.records ?? []) {
        next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        if ((batch.attributes & IS_CONTROL_BATCH) !== 0) continue;
        for (const r of batch.records) {
          const offset = batch.firstOffset + BigInt(r.offsetDelta);
          if (offset < from) continue;
          const rawHeaders = r.headers.map(([k, v]) => [k ?? EMPTY, v ?? EMPTY] as const);
          out.push({
            partition: p.partitionIndex,
            offset,
            timestamp: batch.firstTimestamp + r.timestampDelta,
            key: r.key,
            value: r.value,
            headers: new Map(rawHeaders.map(([k, v]) => [k.toString('utf8'), v])),
            rawHeaders,
          });
        }
      }
      // Records deleted below the position (a purge): start again from what the log still keeps.
      if (next === from && p.logStartOffset > from) next = p.logStartOffset;
      positions.set(p.partitionIndex, next);
    }
    return out;
  }

  /**
   * Every record below the extent's end, partition by partition in order, until `visit` answers false. Records
   * written after the extent was taken are left alone.
   */
  async scan(extent: Extent, visit: (record: StoredRecord) => boolean | void): Promise<void> {
    for (const [partition, end] of extent.end.entries()) {
      const positions = new Map([[partition, extent.start[partition] ?? 0n]]);
      while ((positions.get(partition) ?? end) < end) {
        const before = positions.get(partition);
        for (const record of await this.read(positions, 100)) {
          if (record.offset >= end) break;
          if (visit(record) === false) return;
        }
        // Nothing readable below the end (deleted meanwhile): stop rather than ask again forever.
        if (positions.get(partition) === before) break;
      }
    }
  }
}
