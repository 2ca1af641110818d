// The Kafka binder against a real broker (one per file, started by the project's own kit): the shared semantic suite,
// then what only Kafka shows: Spring's records on the wire, topic provisioning, health. A broker restart has its own
// file (kafka-restart.e2e.test.ts), so its two broker starts overlap this file's tests.
import { Admin, Consumer, Producer, type Message } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HealthRegistry } from '@trellis/kit';
import { startKafkaBroker, type KafkaBroker } from '@trellis/kit/kafka-broker';
import {
  createEventBinder,
  createKafkaBinder,
  KAFKA_DLQ_HEADERS,
  registerBinderHealth,
  selectPartition,
  type EventBinder,
  type EventInspector,
  type EventMessage,
  type TailedMessage,
} from '../../src/events/index.ts';
import { binderSemantics, type BinderNames } from './semantics.ts';
import { uniqueName, waitFor } from './helpers.ts';

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafkaBroker();
}, 120_000);
afterAll(async () => {
  await broker?.stop();
});

function admin(): Admin {
  return new Admin({ clientId: 'test', bootstrapBrokers: [broker.bootstrap] });
}

async function publishRaw(destination: string, _routingKey: string, body: Buffer): Promise<void> {
  const producer = new Producer({ clientId: 'test-raw', bootstrapBrokers: [broker.bootstrap] });
  await producer.send({ messages: [{ topic: destination, value: body }] });
  await producer.close();
}

async function createTopic(topic: string, partitions: number): Promise<void> {
  const a = admin();
  await a.createTopics({ topics: [topic], partitions, replicas: 1 });
  await a.close();
}

const KAFKA_NAMES: BinderNames = {
  deadLetterQueue: (d, g) => `error.${d}.${g}`,
  failedIn: (d) => d,
  originHeaders: (d) => ({ [KAFKA_DLQ_HEADERS.originalTopic]: d, [KAFKA_DLQ_HEADERS.originalPartition]: 0 }),
  anonymous: () => /^anonymous\.[0-9a-f-]{36}$/,
};

binderSemantics(
  'kafka',
  async () => ({
    binder: await createKafkaBinder({ brokers: broker.url, publishTimeoutMs: 10_000 }),
    publishRaw,
    prepareShared: createTopic,
  }),
  [],
  KAFKA_NAMES,
);

/** Every record of a topic, read by a plain client from the beginning. */
async function readAll(topic: string, count: number): Promise<Message<Buffer, Buffer, Buffer, Buffer>[]> {
  const consumer = new Consumer({
    clientId: 'test-read',
    groupId: uniqueName('reader'),
    bootstrapBrokers: [broker.bootstrap],
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false });
  const records: Message<Buffer, Buffer, Buffer, Buffer>[] = [];
  stream.on('data', (m: Message<Buffer, Buffer, Buffer, Buffer>) => void records.push(m));
  await waitFor(() => records.length >= count, 10_000, `${count} records of ${topic}`);
  await stream.close();
  await consumer.close(true);
  return records;
}

function headerText(record: Message<Buffer, Buffer, Buffer, Buffer>): Record<string, string> {
  return Object.fromEntries([...record.headers].map(([k, v]) => [k.toString(), v.toString()]));
}

describe('kafka binder on the wire', () => {
  it("writes a partitioned record as Spring does: its partition, no key, Spring's typed headers", async () => {
    const d = uniqueName('wire');
    const binder = await createKafkaBinder({ brokers: broker.url });
    try {
      const producer = await binder.producer<{ key: string }>({
        destination: d,
        partitionKey: (e) => e.key,
        partitionCount: 4,
      });
      await producer.send({ key: 'hello' }, { headers: { source: 'node', attempt: 7 } });
      const [record] = await readAll(d, 1);
      expect(record?.partition).toBe(selectPartition('hello', 4));
      expect(record?.key ?? null).toBeNull();
      expect(record?.value.toString()).toBe('{"key":"hello"}');
      const headers = headerText(record as Message<Buffer, Buffer, Buffer, Buffer>);
      expect(Object.keys(headers).sort()).toEqual([
        'attempt',
        'contentType',
        'scst_partition',
        'source',
        'spring_json_header_types',
      ]);
      expect(headers).toMatchObject({
        contentType: 'application/json',
        scst_partition: String(selectPartition('hello', 4)),
        source: 'node',
        attempt: '7',
      });
      expect(JSON.parse(headers.spring_json_header_types ?? '')).toEqual({
        contentType: 'java.lang.String',
        scst_partition: 'java.lang.Integer',
        source: 'java.lang.String',
        attempt: 'java.lang.Integer',
      });
    } finally {
      await binder.close();
    }
  });

  it("reads a Spring producer's headers typed by spring_json_header_types", async () => {
    const d = uniqueName('typed');
    const binder = await createKafkaBinder({ brokers: broker.url });
    const got: EventMessage<unknown>[] = [];
    const springTypes = {
      contentType: 'java.lang.String',
      scst_partition: 'java.lang.Integer',
      count: 'java.lang.Long',
      name: 'java.lang.String',
    };
    try {
      await binder.consume({ destination: d, group: 'g', handler: (m) => void got.push(m) });
      const producer = new Producer({ clientId: 'spring-like', bootstrapBrokers: [broker.bootstrap] });
      const h = (k: string, v: string): [Buffer, Buffer] => [Buffer.from(k), Buffer.from(v)];
      await producer.send({
        messages: [
          {
            topic: d,
            value: Buffer.from('{"n":1}'),
            headers: new Map([
              h('contentType', 'application/json'),
              h('scst_partition', '0'),
              h('count', '42'),
              h('name', 'spring'),
              h('raw', 'bytes'),
              h('spring_json_header_types', JSON.stringify(springTypes)),
            ]),
          },
        ],
      });
      await producer.close();
      await waitFor(() => got.length === 1, 10_000, 'the Spring record');
      expect(got[0]?.payload).toEqual({ n: 1 });
      expect(got[0]?.partition).toBe(0);
      expect(got[0]?.headers).toEqual({
        contentType: 'application/json',
        scst_partition: 0,
        count: 42,
        name: 'spring',
        raw: 'bytes',
      });
      expect(got[0]?.deliveryId).toBe(`${d}-0@0`);
    } finally {
      await binder.close();
    }
  });

  it("dead-letters to error.<destination>.<group>: same partition, key and headers, Spring's x- headers", async () => {
    const d = uniqueName('dlqwire');
    await createTopic(d, 3);
    const binder = await createKafkaBinder({ brokers: broker.url });
    try {
      await binder.consume({
        destination: d,
        group: 'audit',
        maxAttempts: 1,
        handler: () => {
          throw new TypeError('no such product');
        },
      });
      const producer = new Producer({ clientId: 'keyed', bootstrapBrokers: [broker.bootstrap] });
      const sent = await producer.send({
        messages: [
          {
            topic: d,
            partition: 2,
            key: Buffer.from('k-1'),
            value: Buffer.from('{"n":1}'),
            headers: new Map([[Buffer.from('who'), Buffer.from('me')]]),
          },
        ],
      });
      await producer.close();
      const [letter] = await readAll(`error.${d}.audit`, 1);
      expect(letter?.partition).toBe(2);
      expect(letter?.key?.toString()).toBe('k-1');
      expect(letter?.value.toString()).toBe('{"n":1}');
      const raw = letter?.headers ?? new Map<Buffer, Buffer>();
      const get = (name: string): Buffer | undefined => [...raw].find(([k]) => k.toString() === name)?.[1];
      expect(get('who')?.toString()).toBe('me');
      expect(get('x-original-topic')?.toString()).toBe(d);
      expect(get('x-original-partition')).toEqual(Buffer.from([0, 0, 0, 2]));
      expect(get('x-original-offset')?.readBigInt64BE()).toBe(sent.offsets?.[0]?.offset);
      expect(get('x-original-timestamp')?.length).toBe(8);
      expect(get('x-original-timestamp-type')?.toString()).toBe('CreateTime');
      expect(get('x-exception-fqcn')?.toString()).toBe('TypeError');
      expect(get('x-exception-message')?.toString()).toBe('no such product');
      expect(get('x-exception-stacktrace')?.toString()).toContain('TypeError: no such product');
    } finally {
      await binder.close();
    }
  });
});

describe('kafka binder through rebalances', () => {
  it('loses nothing when members join and leave mid-stream, and repeats at most what was in flight', async () => {
    const d = uniqueName('rebalance');
    await createTopic(d, 4);
    const [a, b] = [await createKafkaBinder({ brokers: broker.url }), await createKafkaBinder({ brokers: broker.url })];
    const seen: number[] = [];
    const byB: number[] = [];
    const handler =
      (mine?: number[]) =>
      async (m: EventMessage<{ n: number }>): Promise<void> => {
        seen.push(m.payload.n);
        mine?.push(m.payload.n);
        await new Promise((r) => setTimeout(r, 10));
      };
    try {
      const first = await a.consume({ destination: d, group: 'g', handler: handler() });
      const producer = await a.producer<{ n: number }>({ destination: d });
      await Promise.all(Array.from({ length: 600 }, (_, n) => producer.send({ n })));
      await waitFor(() => seen.length >= 100, 10_000, 'the first hundred');
      await b.consume({ destination: d, group: 'g', handler: handler(byB) });
      await waitFor(() => byB.length >= 50, 20_000, 'b to take its share');
      await first.close();
      await waitFor(() => new Set(seen).size === 600, 30_000, 'every record');
      expect(seen.length - 600).toBeLessThanOrEqual(8); // a record in hand per member and rebalance at most
      expect(byB.length).toBeGreaterThan(100); // b took over a's partitions
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 60_000);
});

describe("kafka binder inspector: the notes' questions, answered as Kafka's tools do", () => {
  const keysOf = (messages: TailedMessage[]): number[] =>
    messages.map((m) => (JSON.parse(m.payload) as { key: number }).key);
  const tailAll = async (
    binder: EventBinder,
    d: string,
    options: Parameters<EventInspector['tail']>[1],
  ): Promise<TailedMessage[]> => {
    const out: TailedMessage[] = [];
    for await (const m of binder.inspect?.tail(d, { timeoutMs: 500, ...options }) ?? []) out.push(m);
    return out;
  };

  it('lists a topic and its partitions, describes group lag, tails from the start, a partition, a group', async () => {
    const d = uniqueName('products');
    const binder = await createKafkaBinder({ brokers: broker.url });
    const sent = [1, 2, 3, 4, 5, 6, 7, 8];
    const inPartition = (p: number, keys: number[]): number[] => keys.filter((k) => selectPartition(k, 2) === p);
    try {
      const producer = await binder.producer<{ key: number }>({
        destination: d,
        partitionKey: (e) => e.key,
        partitionCount: 2,
      });
      for (const key of sent) await producer.send({ key });
      const inspect = binder.inspect as EventInspector;
      expect(await inspect.topics()).toContainEqual({ name: d, partitions: 2 });

      const handled: number[] = [];
      await binder.consume<{ key: number }>({
        destination: d,
        group: 'g',
        partitioned: { instanceIndex: 0, instanceCount: 2 },
        handler: (m) => void handled.push(m.payload.key),
      });
      await waitFor(() => handled.length === inPartition(0, sent).length, 10_000, 'partition 0 handled');
      await waitFor(
        async () => (await inspect.describe(d)).groups.find((g) => g.group === 'g')?.partitions[0]?.lag === 0,
        10_000,
        'partition 0 committed',
      );
      const described = await inspect.describe(d);
      expect(described.partitions).toEqual([
        { partition: 0, startOffset: 0, endOffset: inPartition(0, sent).length, messages: inPartition(0, sent).length },
        { partition: 1, startOffset: 0, endOffset: inPartition(1, sent).length, messages: inPartition(1, sent).length },
      ]);
      const g = described.groups.find((group) => group.group === 'g');
      expect(g?.partitions.map((p) => [p.partition, p.lag])).toEqual([
        [0, 0],
        [1, undefined], // never committed: Kafka's tools print "-"
      ]);
      expect(g?.partitions[0]?.consumers).toBe(1);
      expect(g?.deadLetters).toBe(0);
      await expect(inspect.describe(`${d}-missing`)).rejects.toMatchObject({ code: 'not_found' });

      const all = await tailAll(binder, d, { fromBeginning: true });
      expect(keysOf(all).sort((a, b) => a - b)).toEqual(sent);
      expect(keysOf(await tailAll(binder, d, { fromBeginning: true, partition: 1 }))).toEqual(inPartition(1, sent));
      expect(all[0]).toMatchObject({ offset: 0, headers: { contentType: 'application/json' } });
      // What group g has not consumed: nothing of partition 0, all of partition 1 (from its start, as g would).
      expect(keysOf(await tailAll(binder, d, { group: 'g' }))).toEqual(inPartition(1, sent));

      const live = tailAll(binder, d, { partition: 1, timeoutMs: 1500 });
      await new Promise((r) => setTimeout(r, 300));
      const more = [101, 102, 103, 104, 105, 106];
      for (const key of more) await producer.send({ key });
      expect(keysOf(await live)).toEqual(inPartition(1, more));
    } finally {
      await binder.close();
    }
  });

  it("answers the same as Kafka's own scripts, run against the same broker", async () => {
    const d = uniqueName('products');
    const binder = await createKafkaBinder({ brokers: broker.url });
    try {
      const producer = await binder.producer<{ key: number }>({
        destination: d,
        partitionKey: (e) => e.key,
        partitionCount: 2,
      });
      for (const key of [1, 2, 3, 4]) await producer.send({ key });
      const server = ['--bootstrap-server', broker.bootstrap];
      const listed = await broker.tool('org.apache.kafka.tools.TopicCommand', [...server, '--list']);
      expect(listed.split('\n')).toContain(d);
      const topicDescription = await broker.tool('org.apache.kafka.tools.TopicCommand', [
        ...server,
        '--describe',
        '--topic',
        d,
      ]);
      expect(topicDescription).toMatch(/PartitionCount:\s*2/);
      const partition1 = await broker.tool('org.apache.kafka.tools.consumer.ConsoleConsumer', [
        ...server,
        '--topic',
        d,
        '--partition',
        '1',
        '--offset',
        'earliest',
        '--timeout-ms',
        '3000',
      ]);
      const viaTrellis = await tailAll(binder, d, { fromBeginning: true, partition: 1 });
      expect(partition1.trim().split('\n')).toEqual(viaTrellis.map((m) => m.payload));
    } finally {
      await binder.close();
    }
  }, 60_000);
});

describe('kafka binder topics and health', () => {
  it('creates a topic with the partitionCount, and adds partitions only with autoAddPartitions', async () => {
    const d = uniqueName('grow');
    const strict = await createKafkaBinder({ brokers: broker.url });
    const growing = await createKafkaBinder({ brokers: broker.url, autoAddPartitions: true });
    const a = admin();
    const partitions = async (): Promise<number | undefined> =>
      (await a.metadata({ topics: [d], forceUpdate: true })).topics.get(d)?.partitionsCount;
    try {
      await strict.producer({ destination: d, partitionKey: () => 'k', partitionCount: 2 });
      expect(await partitions()).toBe(2);
      await strict.producer({ destination: d, partitionKey: () => 'k', partitionCount: 3 });
      expect(await partitions()).toBe(2);
      await growing.producer({ destination: d, partitionKey: () => 'k', partitionCount: 3 });
      expect(await partitions()).toBe(3);
    } finally {
      await Promise.all([strict.close(), growing.close(), a.close()]);
    }
  });

  it('is chosen by a kafka:// broker URL, and reports UP on readiness until closed', async () => {
    const binder = await createEventBinder({ brokerUrl: broker.url, dataDir: '/nonexistent' });
    expect(binder.kind).toBe('kafka');
    const health = new HealthRegistry();
    registerBinderHealth(health, binder);
    expect(await health.check('readiness')).toMatchObject({
      status: 'UP',
      components: { binders: { details: { binder: 'kafka', brokers: broker.bootstrap } } },
    });
    await binder.close();
    expect((await health.check('readiness')).status).toBe('DOWN');
  });
});
