// A real Spring Cloud Stream service (interop/spring-cloud-stream, spring-cloud-stream-binder-kafka) and Node
// consumers and a producer on Trellis's events SDK, sharing one Kafka broker (started from the project's own jars):
// the same partition for the same key both ways, one consumer group across both languages, and one DLQ topic with
// Spring's headers whoever failed the record. What Spring writes is read with @platformatic/kafka, not our binder.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import {
  createEventBinder,
  selectPartition,
  type EventBinder,
  type EventMessage,
  type Producer,
} from '@trellis/clients/events';
import { startKafkaBroker, type KafkaBroker } from '@trellis/kit/kafka-broker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, killAll, setUpReported, stopJava } from './support/jvm.ts';
import {
  keysInBoth,
  nodeProducer,
  PARTITIONS,
  publishAllFromSpring,
  QUICK_RETRIES,
  readFixture,
  recorder,
  recording,
  sendAllFromNode,
  springDeliveries,
  springKeys,
  startStreamApp,
  timesEach,
  writeFixture,
  type InteropEvent,
  type StreamApp,
} from './support/stream-app.ts';

const TEST_TIMEOUT_MS = 60_000;
const FIXTURE = 'spring-kafka';

/** A header's bytes as a fixture keeps them: text when they are printable UTF-8, else base64. */
type HeaderBytes = { readonly utf8: string } | { readonly base64: string };

/** A record as @platformatic/kafka reads it: what Spring (or Node) put on the wire. */
interface RawRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: string | null;
  readonly headers: Readonly<Record<string, HeaderBytes>>;
  readonly value: string;
}

interface KafkaFixture {
  readonly recordedWith: string;
  /** What Spring's producer wrote to `s2n` (partitionKeyExpression headers['partitionKey'], partitionCount 2). */
  readonly produced: RawRecord;
  /** What Spring's consumer (enableDlq) wrote to `error.n2s.shared` for a record it failed. */
  readonly deadLetteredBySpring: RawRecord;
}

const work = mkdtempSync(join(tmpdir(), 'stream-interop-kafka-'));
const prefix = `interop-${randomBytes(4).toString('hex')}-`;
/** Spring → Node, two partitions; Node reads it as group `nodes`. */
const toNode = `${prefix}s2n`;
/** Node → Spring, two partitions; group `shared` has a Spring member and a Node member; group `audit` is Node. */
const fromNode = `${prefix}n2s`;
const deadLetters = `error.${fromNode}.shared`;

let broker: KafkaBroker | undefined;
let spring: StreamApp | undefined;
let binder: EventBinder | undefined;
let producer: Producer<InteropEvent> | undefined;
let admin: Admin | undefined;
let tap: Consumer | undefined;
/** Every record of both topics and the DLQ as @platformatic/kafka read them, from the beginning. */
const tapped: RawRecord[] = [];
const handled = { nodes: [], shared: [], audit: [] } as Record<
  'nodes' | 'shared' | 'audit',
  EventMessage<InteropEvent>[]
>;

function headerBytes(value: Buffer): HeaderBytes {
  const text = value.toString('utf8');
  // eslint-disable-next-line no-control-regex
  return Buffer.from(text, 'utf8').equals(value) && !/[\x00-\x08\x0e-\x1f]/.test(text)
    ? { utf8: text }
    : { base64: value.toString('base64') };
}

function bytesOf(header: HeaderBytes | undefined): Buffer {
  if (header === undefined) return Buffer.alloc(0);
  return 'utf8' in header ? Buffer.from(header.utf8, 'utf8') : Buffer.from(header.base64, 'base64');
}

function raw(message: Message): RawRecord {
  const headers: Record<string, HeaderBytes> = {};
  for (const [name, value] of message.headers) headers[name.toString('utf8')] = headerBytes(value);
  return {
    topic: message.topic,
    partition: message.partition,
    key: message.key === undefined || message.key === null || message.key.length === 0 ? null : message.key.toString(),
    headers,
    value: message.value?.toString('utf8') ?? '',
  };
}

/** The partitions of `topic` each member of `group` holds, by member id; rejects while the group is not stable. */
async function assignments(group: string, topic: string): Promise<Map<string, number[]>> {
  const found = (await admin?.describeGroups({ groups: [group] }))?.get(group);
  const out = new Map<string, number[]>();
  for (const member of found?.members.values() ?? []) {
    out.set(`${member.clientId}/${member.id}`, [...(member.assignments?.get(topic)?.partitions ?? [])].sort());
  }
  if (found === undefined || !/^stable$/i.test(found.state)) {
    throw new Error(`group ${group} is ${found?.state ?? 'unknown'}: ${JSON.stringify([...out])}`);
  }
  return out;
}

/**
 * Broker, topics (two partitions each, as the notes' landscape has them, so neither side's auto-creation races the
 * other), the tap, Node's consumers, then the Spring app; resolves once group `shared` is Spring and Node, one
 * partition each.
 */
async function setUp(): Promise<StreamApp> {
  broker = await startKafkaBroker({ dataDir: join(work, 'kafka') });
  const bootstrapBrokers = [broker.bootstrap];
  admin = new Admin({ clientId: 'interop-admin', bootstrapBrokers });
  await admin.createTopics({
    topics: [toNode, fromNode, deadLetters],
    partitions: PARTITIONS,
    replicas: 1,
  });
  tap = new Consumer({ groupId: `${prefix}tap`, clientId: 'interop-tap', bootstrapBrokers });
  const stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> = await tap.consume({
    topics: [toNode, fromNode, deadLetters],
    mode: 'earliest',
    autocommit: false,
  });
  stream.on('data', (message: Message) => tapped.push(raw(message)));

  binder = await createEventBinder({ brokerUrl: broker.url, dataDir: work });
  await binder.consume<InteropEvent>({
    destination: toNode,
    group: 'nodes',
    ...QUICK_RETRIES,
    handler: recorder(handled.nodes),
  });
  await binder.consume<InteropEvent>({
    destination: fromNode,
    group: 'shared',
    ...QUICK_RETRIES,
    handler: recorder(handled.shared),
  });
  await binder.consume<InteropEvent>({ destination: fromNode, group: 'audit', handler: recorder(handled.audit) });
  producer = await nodeProducer(binder, fromNode);

  spring = await startStreamApp({
    profile: 'kafka',
    fromNode,
    toNode,
    work,
    env: { TRELLIS_KAFKA_BROKERS: broker.bootstrap },
  });
  await eventually(
    'group `shared` to be Spring and Node, one partition each',
    async () => {
      const held = await assignments('shared', fromNode);
      if ([...held.values()].every((p) => p.length === 1) && held.size === 2) return true;
      throw new Error(`group shared holds ${JSON.stringify([...held])}`);
    },
    { app: spring.jvm, timeoutMs: 45_000 },
  );
  return spring;
}

const setUpReport = setUpReported(setUp);
const started = setUpReport.started;

afterAll(async () => {
  await stopJava(spring?.jvm);
  await binder?.close();
  await tap?.close(true).catch(() => undefined);
  await admin?.close().catch(() => undefined);
  await broker?.stop();
  killAll();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

const valueOf = (record: RawRecord): InteropEvent => JSON.parse(record.value) as InteropEvent;

describe('set-up', { timeout: TEST_TIMEOUT_MS }, () => {
  it('starts Kafka and the Spring Cloud Stream app on the Kafka binder, in group `shared` beside a Node member', () => {
    const failure = setUpReport.failure();
    if (failure !== undefined) throw failure;
    expect(spring?.jvm.child.exitCode).toBeNull();
  });
});

describe('Spring producer → Node consumers', { timeout: TEST_TIMEOUT_MS }, () => {
  beforeAll(async () => {
    if (setUpReport.failure() === undefined) await publishAllFromSpring(started(), keysInBoth(3, 'product'));
  });

  it('writes each key to the partition Node computes, with no record key and an scst_partition header', async () => {
    const app = started();
    const records = await eventually(
      'Spring records at the tap',
      () => {
        const found = tapped.filter((r) => r.topic === toNode);
        return found.length >= 6 ? found : undefined;
      },
      { app: app.jvm },
    );
    for (const record of records) {
      const partition = selectPartition(valueOf(record).key, PARTITIONS);
      expect(record.partition).toBe(partition);
      expect(record.key).toBeNull();
      expect(record.headers.scst_partition).toEqual({ utf8: String(partition) });
    }
  });

  it("writes Spring's headers: contentType and user headers raw, their Java types in spring_json_header_types", () => {
    started();
    const record = tapped.find((r) => r.topic === toNode);
    if (record === undefined) throw new Error('no Spring record');
    const event = valueOf(record);
    expect(record.headers).toMatchObject({
      contentType: { utf8: 'application/json' },
      origin: { utf8: 'spring' },
      partitionKey: { utf8: event.key },
      seq: { utf8: String(event.seq) },
    });
    const types = JSON.parse(bytesOf(record.headers.spring_json_header_types).toString('utf8')) as Record<
      string,
      string
    >;
    expect(types).toMatchObject({
      contentType: 'java.lang.String',
      origin: 'java.lang.String',
      partitionKey: 'java.lang.String',
      seq: 'java.lang.Integer',
    });
    if (recording()) return;
    const fixture = readFixture<KafkaFixture>(FIXTURE).produced;
    expect(Object.keys(record.headers).sort()).toEqual(Object.keys(fixture.headers).sort());
  });

  it('reaches group `nodes` once per record, with the partition Spring chose and its headers as text', async () => {
    const app = started();
    await eventually('Spring events at Node', () => (handled.nodes.length >= 6 ? true : undefined), { app: app.jvm });
    for (const message of handled.nodes) {
      expect(message.partition).toBe(selectPartition(message.payload.key, PARTITIONS));
    }
    expect(timesEach(handled.nodes.map((m) => m.payload.key))).toEqual(
      timesEach(tapped.filter((r) => r.topic === toNode).map((r) => valueOf(r).key)),
    );
    expect(handled.nodes[0]?.headers).toMatchObject({ origin: 'spring', contentType: 'application/json' });
  });
});

describe('Node producer → Spring and Node members of shared groups', { timeout: TEST_TIMEOUT_MS }, () => {
  it('hands each record to the one member of group `shared` holding its partition, and once to `audit`', async () => {
    const app = started();
    const held = await assignments('shared', fromNode);
    const keys = keysInBoth(4, 'order');
    await sendAllFromNode(producer, keys, { fail: false, firstSeq: 0 });
    const isOrder = (key: string): boolean => key.startsWith('order-');
    const nodeKeys = (): string[] => handled.shared.map((m) => m.payload.key).filter(isOrder);
    await eventually(
      'every order at its group member and at audit',
      async () => {
        const audit = handled.audit.map((m) => m.payload.key).filter(isOrder);
        return (await springKeys(app, 'order-')).length + nodeKeys().length >= keys.length &&
          audit.length >= keys.length
          ? true
          : undefined;
      },
      { app: app.jvm },
    );
    await sleep(500);
    // Each member got exactly the keys of the partition it holds; which member holds which is the broker's choice.
    const springPartitions = new Set((await springKeys(app, 'order-')).map((k) => selectPartition(k, PARTITIONS)));
    const nodePartitions = new Set(nodeKeys().map((k) => selectPartition(k, PARTITIONS)));
    expect(springPartitions.size).toBe(1);
    expect(nodePartitions.size).toBe(1);
    expect([...springPartitions, ...nodePartitions].sort()).toEqual([0, 1]);
    expect([...held.values()].flat().sort()).toEqual([0, 1]);
    const inPartition = (p: number): string[] => keys.filter((k) => selectPartition(k, PARTITIONS) === p);
    expect(timesEach(await springKeys(app, 'order-'))).toEqual(timesEach(inPartition([...springPartitions][0] ?? -1)));
    expect(timesEach(nodeKeys())).toEqual(timesEach(inPartition([...nodePartitions][0] ?? -1)));
    expect(timesEach(handled.audit.map((m) => m.payload.key).filter(isOrder))).toEqual(timesEach(keys));
  });

  it("reads Node's record as Spring reads its own: a typed payload, String headers, the partition Node chose", async () => {
    const app = started();
    const delivery = (await springDeliveries(app)).find((d) => d.payload.key.startsWith('order-'));
    if (delivery === undefined) throw new Error('Spring got no order');
    const partition = String(selectPartition(delivery.payload.key, PARTITIONS));
    expect(delivery.payload).toMatchObject({ origin: 'node', fail: false });
    // Strings, not byte[]: Node wrote spring_json_header_types as Spring does.
    expect(delivery.headers.origin).toEqual({ type: 'java.lang.String', value: 'node' });
    expect(delivery.headers.contentType?.value).toBe('application/json');
    expect(delivery.headers.kafka_receivedPartitionId?.value).toBe(partition);
    expect(delivery.headers.kafka_receivedTopic?.value).toBe(fromNode);
  });
});

describe('one dead-letter topic for group `shared`, whichever member failed', { timeout: TEST_TIMEOUT_MS }, () => {
  it("lands Spring's failure and Node's in error.<destination>.shared, same partition, with Spring's headers", async () => {
    const app = started();
    await sendAllFromNode(producer, keysInBoth(1, 'poison'), { fail: true, firstSeq: 100 });
    const letters = await eventually(
      `two dead letters in ${deadLetters}`,
      () => {
        const found = tapped.filter((r) => r.topic === deadLetters);
        return found.length >= 2 ? found : undefined;
      },
      { app: app.jvm },
    );
    const message = (r: RawRecord): string => bytesOf(r.headers['x-exception-message']).toString('utf8');
    const spring = letters.find((r) => message(r).includes('refused by spring'));
    const node = letters.find((r) => message(r).includes('refused by node'));
    if (spring === undefined || node === undefined) {
      throw new Error(`expected one dead letter from each side, got ${JSON.stringify(letters.map(message))}`);
    }
    if (recording()) {
      const produced = tapped.find((r) => r.topic === toNode);
      if (produced === undefined) throw new Error('nothing to record');
      writeFixture(
        FIXTURE,
        {
          recordedWith: 'Spring Boot 3.5.16, Spring Cloud Stream 4.3.1 (spring-cloud-stream-binder-kafka), Kafka 4.1.1',
          produced,
          deadLetteredBySpring: spring,
        } satisfies KafkaFixture,
        prefix,
      );
    }
    for (const letter of [spring, node]) {
      const original = tapped.find(
        (r) => r.topic === fromNode && valueOf(r).key === valueOf(letter).key && r.value === letter.value,
      );
      if (original === undefined) throw new Error(`no original record for ${valueOf(letter).key}`);
      expect(letter.partition).toBe(original.partition);
      expect(letter.key).toBe(original.key);
      expect(bytesOf(letter.headers['x-original-topic']).toString('utf8')).toBe(fromNode);
      expect(bytesOf(letter.headers['x-original-partition']).readInt32BE(0)).toBe(original.partition);
      expect(bytesOf(letter.headers['x-original-offset'])).toHaveLength(8);
      expect(bytesOf(letter.headers['x-original-timestamp'])).toHaveLength(8);
      expect(bytesOf(letter.headers['x-original-timestamp-type'])).toBeDefined();
    }
    expect(message(spring)).toContain(`refused by spring: ${valueOf(spring).key}`);
    expect(message(node)).toBe(`refused by node: ${valueOf(node).key}`);
    // Every header Spring's dead letter has, Node's has too (it may add more: a Spring consumer ignores them).
    expect(Object.keys(node.headers)).toEqual(expect.arrayContaining(Object.keys(spring.headers)));
    expect((await springDeliveries(app)).filter((d) => d.payload.key === valueOf(spring).key)).toHaveLength(3);
    expect(handled.shared.filter((m) => m.payload.key === valueOf(node).key)).toHaveLength(3);

    // Trellis's dead-letter tooling reads Spring's dead letter as it reads its own.
    const listed = await binder?.deadLetters(fromNode, 'shared').list();
    expect(listed?.map((l) => l.reason).sort()).toEqual([message(node), message(spring)].sort());

    if (recording()) return;
    // The headers Spring adds (the rest are the original record's, written by Node's producer).
    const added = (headers: Readonly<Record<string, HeaderBytes>>): string[] =>
      Object.keys(headers)
        .filter((name) => name.startsWith('x-'))
        .sort();
    expect(added(spring.headers)).toEqual(added(readFixture<KafkaFixture>(FIXTURE).deadLetteredBySpring.headers));
  });
});
