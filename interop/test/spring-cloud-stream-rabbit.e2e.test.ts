// A real Spring Cloud Stream service (interop/spring-cloud-stream, spring-cloud-stream-binder-rabbit) and Node
// consumers and a producer on Trellis's events SDK, sharing one RabbitMQ: the same partition for the same key both
// ways, one consumer group across both languages, and one DLQ with Spring's headers whoever failed the message.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type ChannelModel, type ConsumeMessage, type GetMessage } from 'amqplib';
import {
  createEventBinder,
  selectPartition,
  type EventBinder,
  type EventMessage,
  type Producer,
} from '@trellis/clients/events';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKER, cleanupBroker, uniqueName } from '../../clients/test/events/helpers.ts';
import { eventually, killAll, setUpReported, stopJava } from './support/jvm.ts';
import {
  keysIn,
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
const FIXTURE = 'spring-rabbit';

/** A message as amqplib reads it off a queue: what Spring (or Node) put on the wire. */
interface RawMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly properties: Record<string, unknown>;
  readonly headers: Record<string, unknown>;
  readonly body: string;
}

interface RabbitFixture {
  readonly recordedWith: string;
  /** What Spring's producer wrote to `s2n` (partitionKeyExpression headers['partitionKey'], partitionCount 2). */
  readonly produced: RawMessage;
  /** What Spring's republishToDlq wrote to `n2s.shared.dlq` for a message its consumer failed. */
  readonly deadLetteredBySpring: RawMessage;
}

const work = mkdtempSync(join(tmpdir(), 'stream-interop-rabbit-'));
const prefix = `${uniqueName('interop')}-`;
/** Spring → Node, partitioned; Node reads it as group `nodes`, one consumer per partition. */
const toNode = `${prefix}s2n`;
/** Node → Spring, partitioned; group `shared` is Spring on partition 0 and Node on partition 1; group `audit` is Node. */
const fromNode = `${prefix}n2s`;

let spring: StreamApp | undefined;
let binder: EventBinder | undefined;
let producer: Producer<InteropEvent> | undefined;
let amqp: ChannelModel | undefined;
/** Spring's messages to Node as amqplib saw them, through a queue of our own bound to every key. */
const tapped: RawMessage[] = [];
/** What each Node consumer handled (attempts included), by name. */
const handled = { nodes0: [], nodes1: [], shared1: [], audit: [] } as Record<
  'nodes0' | 'nodes1' | 'shared1' | 'audit',
  EventMessage<InteropEvent>[]
>;

function raw(msg: ConsumeMessage | GetMessage): RawMessage {
  const { headers, ...properties } = msg.properties as unknown as Record<string, unknown>;
  return {
    exchange: msg.fields.exchange,
    routingKey: msg.fields.routingKey,
    properties: Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== undefined)),
    headers: (headers ?? {}) as Record<string, unknown>,
    body: msg.content.toString('utf8'),
  };
}

/** Node's consumers first, so every queue exists before either side sends; then the Spring app. */
async function setUp(): Promise<StreamApp> {
  amqp = await connect(BROKER);
  binder = await createEventBinder({ brokerUrl: BROKER, dataDir: work });
  for (const index of [0, 1] as const) {
    await binder.consume<InteropEvent>({
      destination: toNode,
      group: 'nodes',
      partitioned: { instanceIndex: index, instanceCount: PARTITIONS },
      ...QUICK_RETRIES,
      handler: recorder(index === 0 ? handled.nodes0 : handled.nodes1),
    });
  }
  await binder.consume<InteropEvent>({
    destination: fromNode,
    group: 'shared',
    partitioned: { instanceIndex: 1, instanceCount: PARTITIONS },
    ...QUICK_RETRIES,
    handler: recorder(handled.shared1),
  });
  await binder.consume<InteropEvent>({ destination: fromNode, group: 'audit', handler: recorder(handled.audit) });
  producer = await nodeProducer(binder, fromNode);

  const tap = await amqp.createChannel();
  const { queue } = await tap.assertQueue('', { exclusive: true, autoDelete: true });
  await tap.bindQueue(queue, toNode, '#');
  await tap.consume(queue, (msg) => msg !== null && tapped.push(raw(msg)), { noAck: true });

  spring = await startStreamApp({
    profile: 'rabbit',
    fromNode,
    toNode,
    work,
    env: { TRELLIS_RABBIT_ADDRESSES: BROKER },
  });
  return spring;
}

const setUpReport = setUpReported(setUp);
const started = setUpReport.started;

afterAll(async () => {
  await stopJava(spring?.jvm);
  await binder?.close();
  await amqp?.close().catch(() => undefined);
  killAll();
  await cleanupBroker([toNode, fromNode]);
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('set-up', { timeout: TEST_TIMEOUT_MS }, () => {
  it('builds the Spring Cloud Stream app with Maven and starts it on the Rabbit binder beside Node consumers', () => {
    const failure = setUpReport.failure();
    if (failure !== undefined) throw failure;
    expect(spring?.jvm.child.exitCode).toBeNull();
  });
});

describe('Spring producer → Node consumers', { timeout: TEST_TIMEOUT_MS }, () => {
  it('puts each key in the partition Node computes, which the Node instance for that partition reads', async () => {
    const app = started();
    const keys = keysInBoth(3, 'product');
    await publishAllFromSpring(app, keys);
    await eventually(
      'Spring events at the Node consumers',
      () => (handled.nodes0.length + handled.nodes1.length >= keys.length ? true : undefined),
      { app: app.jvm },
    );
    const byInstance = [handled.nodes0, handled.nodes1].map((list) => list.map((m) => m.payload.key).sort());
    expect(byInstance).toEqual([0, 1].map((p) => keys.filter((k) => selectPartition(k, PARTITIONS) === p).sort()));
    // Spring's headers reach a Node handler as the producer set them.
    const first = handled.nodes0[0];
    expect(first?.payload).toMatchObject({ origin: 'spring', fail: false });
    expect(first?.headers).toMatchObject({
      origin: 'spring',
      partitionKey: first?.payload.key,
      seq: first?.payload.seq,
    });
  });

  it("writes what the recorded fixture shows: JSON body, contentType, the producer's headers, <destination>-<partition>", async () => {
    started();
    await eventually('the tap to see Spring events', () => (tapped.length > 0 ? true : undefined));
    const message = tapped[0] as RawMessage;
    const event = JSON.parse(message.body) as InteropEvent;
    expect(message.routingKey).toBe(`${toNode}-${selectPartition(event.key, PARTITIONS)}`);
    expect(message.properties).toMatchObject({ contentType: 'application/json', deliveryMode: 2 });
    expect(message.headers).toEqual({ origin: 'spring', partitionKey: event.key, seq: event.seq });
    if (recording()) return;
    const fixture = readFixture<RabbitFixture>(FIXTURE).produced;
    expect(Object.keys(message.properties).sort()).toEqual(Object.keys(fixture.properties).sort());
    expect(Object.keys(message.headers).sort()).toEqual(Object.keys(fixture.headers).sort());
  });
});

describe('Node producer → Spring and Node consumers in shared groups', { timeout: TEST_TIMEOUT_MS }, () => {
  it('hands each message to one member of group `shared` (by partition) and once to group `audit`', async () => {
    const app = started();
    const zero = keysIn(0, 4, 'order');
    const one = keysIn(1, 4, 'order');
    const keys = [...zero, ...one];
    await sendAllFromNode(producer, keys, { fail: false, firstSeq: 0 });
    const isOrder = (key: string): boolean => key.startsWith('order-');
    await eventually(
      'every order at its group member and at audit',
      async () => {
        const shared = [
          ...(await springKeys(app, 'order-')),
          ...handled.shared1.map((m) => m.payload.key).filter(isOrder),
        ];
        const audit = handled.audit.map((m) => m.payload.key).filter(isOrder);
        return shared.length >= keys.length && audit.length >= keys.length ? true : undefined;
      },
      { app: app.jvm },
    );
    // Long enough for a duplicate, had there been one, to arrive.
    await sleep(500);
    expect(timesEach(await springKeys(app, 'order-'))).toEqual(timesEach(zero));
    expect(timesEach(handled.shared1.map((m) => m.payload.key).filter(isOrder))).toEqual(timesEach(one));
    expect(timesEach(handled.audit.map((m) => m.payload.key).filter(isOrder))).toEqual(timesEach(keys));
  });

  it("reads Node's event as Spring reads its own: a typed payload, String headers, the partition Node chose", async () => {
    const app = started();
    const delivery = (await springDeliveries(app)).find((d) => d.payload.key.startsWith('order-'));
    expect(delivery?.payload).toMatchObject({ origin: 'node', fail: false });
    expect(delivery?.headers.origin).toEqual({ type: 'java.lang.String', value: 'node' });
    expect(delivery?.headers.contentType?.value).toBe('application/json');
    // A number (amqplib writes it in the narrowest AMQP integer type: a Byte here, where Spring writes an Integer).
    expect(delivery?.headers.scst_partition?.value).toBe('0');
    expect(delivery?.headers.scst_partition?.type).toMatch(/^java\.lang\.(Byte|Short|Integer)$/);
    expect(delivery?.headers.amqp_receivedRoutingKey?.value).toBe(`${fromNode}-0`);
  });
});

describe('one dead-letter queue for group `shared`, whichever side failed', { timeout: TEST_TIMEOUT_MS }, () => {
  it("lands Spring's failure and Node's failure in <destination>.shared.dlq with the same Spring headers", async () => {
    const app = started();
    const [bySpring] = keysIn(0, 1, 'poison');
    const [byNode] = keysIn(1, 1, 'poison');
    if (bySpring === undefined || byNode === undefined) throw new Error('no poison keys');
    await sendAllFromNode(producer, [bySpring, byNode], { fail: true, firstSeq: 100 });

    const dlq = `${fromNode}.shared.dlq`;
    const letters = await eventually(
      `two dead letters in ${dlq}`,
      async () => {
        const found = await peek(dlq);
        return found.length >= 2 ? found : undefined;
      },
      { app: app.jvm },
    );
    const keyOf = (m: RawMessage): string => (JSON.parse(m.body) as InteropEvent).key;
    const spring = letters.find((m) => keyOf(m) === bySpring);
    const node = letters.find((m) => keyOf(m) === byNode);
    if (recording()) {
      const produced = tapped[0];
      if (spring === undefined || produced === undefined) throw new Error('nothing to record');
      writeFixture(
        FIXTURE,
        {
          recordedWith: 'Spring Boot 3.5.16, Spring Cloud Stream 4.3.1 (spring-cloud-stream-binder-rabbit)',
          produced,
          deadLetteredBySpring: spring,
        } satisfies RabbitFixture,
        prefix,
      );
    }
    expect(spring?.headers['x-exception-message']).toContain(`refused by spring: ${bySpring}`);
    expect(node?.headers['x-exception-message']).toBe(`refused by node: ${byNode}`);
    // Both kept the original routing: the failed queue gets it back on replay, whoever failed it.
    expect(spring?.routingKey).toBe(`${fromNode}.shared-0`);
    expect(node?.routingKey).toBe(`${fromNode}.shared-1`);
    expect(spring?.headers).toMatchObject({
      'x-original-exchange': fromNode,
      'x-original-routingKey': `${fromNode}-0`,
    });
    expect(node?.headers).toMatchObject({ 'x-original-exchange': fromNode, 'x-original-routingKey': `${fromNode}-1` });
    // Spring AMQP 3.2's republisher also counts republishes in `retry-count`, which Trellis's binder does not write.
    const springNames = Object.keys(spring?.headers ?? {}).filter((name) => name !== 'retry-count');
    expect(Object.keys(node?.headers ?? {}).sort()).toEqual(springNames.sort());
    expect(Object.keys(node?.properties ?? {}).sort()).toEqual(Object.keys(spring?.properties ?? {}).sort());
    // Retried maxAttempts times on each side first.
    expect((await springDeliveries(app)).filter((d) => d.payload.key === bySpring)).toHaveLength(3);
    expect(handled.shared1.filter((m) => m.payload.key === byNode)).toHaveLength(3);

    // Trellis's dead-letter tooling reads Spring's dead letter as it reads its own.
    const listed = await binder?.deadLetters(fromNode, 'shared').list();
    expect(listed?.map((l) => l.reason).sort()).toEqual(
      [`refused by node: ${byNode}`, spring?.headers['x-exception-message']].sort(),
    );

    if (recording()) return;
    const fixture = readFixture<RabbitFixture>(FIXTURE).deadLetteredBySpring;
    expect(Object.keys(spring?.headers ?? {}).sort()).toEqual(Object.keys(fixture.headers).sort());
    expect(Object.keys(spring?.properties ?? {}).sort()).toEqual(Object.keys(fixture.properties).sort());
  });
});

/** The messages in `queue`, read without taking them: closing the channel puts back what it fetched. */
async function peek(queue: string): Promise<RawMessage[]> {
  if (amqp === undefined) throw new Error('no AMQP connection');
  const ch = await amqp.createChannel();
  try {
    const out: RawMessage[] = [];
    for (;;) {
      const msg = await ch.get(queue, { noAck: false });
      if (msg === false) return out;
      out.push(raw(msg));
    }
  } finally {
    await ch.close();
  }
}
