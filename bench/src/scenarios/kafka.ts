// Events on Kafka: the binder's produce and consume throughput against raw @platformatic/kafka, its publish → handler
// latency at a steady rate, and `trellis up --binder kafka`; one real broker started for the scenario.
import { randomBytes } from 'node:crypto';
import {
  Admin,
  compatibilityPartitioner,
  Consumer,
  ProduceAcks,
  Producer,
  type Message,
  type MessageToProduce,
} from '@platformatic/kafka';
import { createKafkaBinder } from '@trellis/clients/events';
import { startKafkaBroker } from '@trellis/kit/kafka-broker';
import type { Scenario } from '../scenario.ts';
import { counter, median, percentile } from '../stats.ts';
import { kafkaLandscape } from './kafka-landscape.ts';

/** Same for both sides: partitions of every topic, records per produce request, and the consumer's fetch wait. */
const PARTITIONS = 2;
const BATCH = 1000;
const MAX_WAIT_MS = 500;
const KEYS = 100;

interface Product {
  readonly eventType: string;
  readonly key: number;
  readonly data: { readonly productId: number; readonly name: string; readonly weight: number };
  readonly sentAt?: number;
}

/** About 100 B of JSON each, with keys spread so both partitions get records. */
const PAYLOADS: readonly Product[] = Array.from({ length: KEYS }, (_, key) => ({
  eventType: 'CREATE',
  key,
  data: { productId: key, name: `product ${key} of the bench run`, weight: key },
}));
const KEY_BYTES = PAYLOADS.map((p) => Buffer.from(String(p.key)));
const payloadAt = (i: number): Product => PAYLOADS[i % KEYS] as Product;

/**
 * The headers the binder writes but `scst_partition` (which a keyed raw producer does not know before it sends), so
 * both sides put the same bytes on the wire and the ratio measures the client work alone.
 */
const RAW_HEADERS = new Map([
  [Buffer.from('contentType'), Buffer.from('application/json')],
  [Buffer.from('target-protocol'), Buffer.from('kafka')],
  [
    Buffer.from('spring_json_header_types'),
    Buffer.from(JSON.stringify({ contentType: 'java.lang.String', 'target-protocol': 'java.lang.String' })),
  ],
]);

type Raw = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;
type RawRecord = Message<Buffer, Buffer, Buffer, Buffer>;

function rawProducer(bootstrap: string): Producer<Buffer, Buffer, Buffer, Buffer> {
  return new Producer({
    clientId: 'bench-raw',
    bootstrapBrokers: [bootstrap],
    idempotent: true,
    acks: ProduceAcks.ALL,
    partitioner: compatibilityPartitioner,
  });
}

function rawRecord(topic: string, i: number): Raw {
  const payload = payloadAt(i);
  return {
    topic,
    key: KEY_BYTES[i % KEYS],
    value: Buffer.from(JSON.stringify(payload)),
    headers: RAW_HEADERS,
  };
}

/** Sends `count` records in requests of BATCH, one request in flight, as the binder's batcher does under a burst. */
async function sendBatches(producer: Producer<Buffer, Buffer, Buffer, Buffer>, topic: string, count: number) {
  for (let sent = 0; sent < count; sent += BATCH) {
    const n = Math.min(BATCH, count - sent);
    await producer.send({ messages: Array.from({ length: n }, (_, j) => rawRecord(topic, sent + j)) });
  }
}

/** Raw produce: records/s from the first request to the last acknowledgement. */
async function rawProduce(bootstrap: string, topic: string, count: number): Promise<number> {
  const producer = rawProducer(bootstrap);
  try {
    await producer.send({ messages: [rawRecord(topic, 0)] }); // connection, metadata and producer id first
    const start = performance.now();
    await sendBatches(producer, topic, count);
    return count / ((performance.now() - start) / 1000);
  } finally {
    await producer.close();
  }
}

/**
 * The binder's produce: `send` per record with BATCH sends outstanding, which its batcher gathers into requests of
 * BATCH (one in flight); records/s from the first send to the last acknowledgement.
 */
async function binderProduce(url: string, topic: string, count: number): Promise<number> {
  const binder = await createKafkaBinder({ brokers: url, autoCreateTopics: false });
  try {
    const producer = await binder.producer<Product>({
      destination: topic,
      partitionKey: (p) => p.key,
      partitionCount: PARTITIONS,
    });
    await producer.send(payloadAt(0));
    const start = performance.now();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count) await producer.send(payloadAt(next++));
    };
    await Promise.all(Array.from({ length: BATCH }, lane));
    return count / ((performance.now() - start) / 1000);
  } finally {
    await binder.close();
  }
}

/** Counts handled records and notes when the first and the last came, so joining the group is not measured. */
function timedCounter(count: number): { hit: () => void; rate: () => Promise<number> } {
  const c = counter(count);
  let first = 0;
  let last = 0;
  return {
    hit: () => {
      last = performance.now();
      if (first === 0) first = last;
      c.hit();
    },
    rate: async () => {
      await c.done;
      return (count - 1) / ((last - first) / 1000);
    },
  };
}

/**
 * Raw consume: a group member reading from the earliest offset, parsing each JSON body and committing each
 * partition's last record once per event-loop turn (what the binder does, and Spring's ackMode BATCH per poll).
 */
async function rawConsume(bootstrap: string, topic: string, count: number): Promise<number> {
  const consumer = new Consumer({
    clientId: 'bench-raw',
    bootstrapBrokers: [bootstrap],
    groupId: `bench-raw-${topic}`,
    autocommit: false,
    sessionTimeout: 45_000,
    heartbeatInterval: 3000,
    rebalanceTimeout: 60_000,
    maxWaitTime: MAX_WAIT_MS,
  });
  const timed = timedCounter(count);
  const done = new Map<number, RawRecord>();
  let flushing = false;
  const flush = (): void => {
    const records = [...done.values()];
    done.clear();
    flushing = false;
    for (const record of records) void (record.commit() as Promise<void>).catch(() => undefined);
  };
  try {
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
    });
    stream.on('data', (record: RawRecord) => {
      JSON.parse((record.value ?? Buffer.alloc(0)).toString('utf8'));
      done.set(record.partition, record);
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
      timed.hit();
    });
    const rate = await timed.rate();
    await stream.close();
    return rate;
  } finally {
    await consumer.close(true);
  }
}

/** The binder's consume: a group consumer from the earliest offset, its handler counting. */
async function binderConsume(url: string, topic: string, count: number): Promise<number> {
  const binder = await createKafkaBinder({ brokers: url, autoCreateTopics: false });
  try {
    const timed = timedCounter(count);
    await binder.consume<Product>({ destination: topic, group: 'bench', deadLetter: false, handler: timed.hit });
    return await timed.rate();
  } finally {
    await binder.close();
  }
}

/** Topics with PARTITIONS partitions; the consume ones filled with the same `count` records by the raw producer. */
async function prepare(bootstrap: string, topics: readonly string[], fill: readonly string[], count: number) {
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: [bootstrap] });
  const producer = rawProducer(bootstrap);
  try {
    await admin.createTopics({ topics: [...topics], partitions: PARTITIONS, replicas: 1 });
    for (const topic of fill) await sendBatches(producer, topic, count);
  } finally {
    await producer.close();
    await admin.close();
  }
}

interface Rates {
  rawProduce: number[];
  binderProduce: number[];
  rawConsume: number[];
  binderConsume: number[];
}

/** One round of the four measurements; odd rounds run the binder first, so neither always follows the other. */
async function round(bootstrap: string, url: string, tag: string, count: number, binderFirst: boolean, into?: Rates) {
  const t = (what: string): string => `bench-${what}-${tag}`;
  await prepare(
    bootstrap,
    [t('raw-out'), t('binder-out'), t('raw-in'), t('binder-in')],
    [t('raw-in'), t('binder-in')],
    count,
  );
  const steps: [keyof Rates, () => Promise<number>][] = [
    ['rawProduce', () => rawProduce(bootstrap, t('raw-out'), count)],
    ['binderProduce', () => binderProduce(url, t('binder-out'), count)],
    ['rawConsume', () => rawConsume(bootstrap, t('raw-in'), count)],
    ['binderConsume', () => binderConsume(url, t('binder-in'), count)],
  ];
  const ordered = binderFirst ? [steps[1], steps[0], steps[3], steps[2]] : steps;
  for (const step of ordered) {
    if (step === undefined) continue;
    const rate = await step[1]();
    into?.[step[0]].push(rate);
  }
}

/**
 * Publish → handler latency through the binder at `rate` records/s for `seconds`, the first second left out (JIT,
 * the group settling); answers the latencies in ms.
 */
async function latencies(url: string, topic: string, rate: number, seconds: number): Promise<number[]> {
  const binder = await createKafkaBinder({ brokers: url });
  try {
    const samples: number[] = [];
    const measureFrom = performance.now() + 1000;
    await binder.consume<Product>({
      destination: topic,
      group: 'bench-latency',
      deadLetter: false,
      handler: ({ payload }) => {
        const now = performance.now();
        const sentAt = payload.sentAt ?? now;
        if (sentAt >= measureFrom) samples.push(now - sentAt);
      },
    });
    const producer = await binder.producer<Product>({
      destination: topic,
      partitionKey: (p) => p.key,
      partitionCount: PARTITIONS,
    });
    const total = rate * seconds;
    const start = performance.now();
    let sent = 0;
    // A timer every millisecond sends what the schedule owes by now, so the rate holds when a tick comes late.
    while (sent < total) {
      const owed = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < owed; sent++) {
        producer.send({ ...payloadAt(sent), sentAt: performance.now() }).catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    const expected = Math.floor((total * (seconds - 1)) / seconds) - rate / 100;
    for (let waited = 0; samples.length < expected && waited < 5000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return samples;
  } finally {
    await binder.close();
  }
}

const fmt = (values: readonly number[]): string => values.map((v) => Math.round(v)).join(', ');

export const kafka: Scenario = {
  name: 'kafka',
  async run({ figure }) {
    const seconds = Number(process.env.BENCH_DURATION ?? '5');
    const count = Math.max(20_000, Math.round(20_000 * seconds));
    const tag = randomBytes(4).toString('hex');
    const broker = await startKafkaBroker({ properties: { 'auto.create.topics.enable': 'false' } });
    try {
      await round(broker.bootstrap, broker.url, `warm-${tag}`, 20_000, false); // JIT, the broker's first topics
      const rates: Rates = { rawProduce: [], binderProduce: [], rawConsume: [], binderConsume: [] };
      for (let r = 0; r < 3; r++) await round(broker.bootstrap, broker.url, `${tag}-${r}`, count, r % 2 === 1, rates);
      const bytes = JSON.stringify(payloadAt(0)).length;
      const note = `${count} records × 3 rounds, ${bytes} B JSON, ${PARTITIONS} partitions, acks=all, idempotent, batches of ${BATCH}`;
      const produce = median(rates.binderProduce) / median(rates.rawProduce);
      const consume = median(rates.binderConsume) / median(rates.rawConsume);
      figure('kafka binder / raw produce msgs/s', produce, 'ratio', { min: 0.8, note });
      figure('kafka binder produce throughput', median(rates.binderProduce), 'msg/s', {
        note: `rounds ${fmt(rates.binderProduce)}`,
      });
      figure('kafka raw produce throughput', median(rates.rawProduce), 'msg/s', {
        note: `rounds ${fmt(rates.rawProduce)}`,
      });
      figure('kafka binder / raw consume msgs/s', consume, 'ratio', { min: 0.8, note: `${note}, group from earliest` });
      figure('kafka binder consume throughput', median(rates.binderConsume), 'msg/s', {
        note: `rounds ${fmt(rates.binderConsume)}`,
      });
      figure('kafka raw consume throughput', median(rates.rawConsume), 'msg/s', {
        note: `rounds ${fmt(rates.rawConsume)}`,
      });
      const lat = await latencies(broker.url, `bench-latency-${tag}`, 1000, Math.max(10, seconds * 2));
      figure('kafka binder publish → handler p99 at 1,000 msg/s', percentile(lat, 99), 'ms', {
        max: 20,
        note: `p50 ${percentile(lat, 50).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms over ${lat.length} records`,
      });
    } finally {
      await broker.stop();
    }
    await kafkaLandscape(figure);
  },
};
