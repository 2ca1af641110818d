// Events: the RabbitMQ binder's throughput against raw amqplib on the same broker.
import { connect, type ConsumeMessage } from 'amqplib';
import { randomBytes } from 'node:crypto';
import { createRabbitBinder } from '@trellis/clients/events';
import type { Scenario } from '../scenario.ts';
import { counter, median } from '../stats.ts';

const BROKER = process.env.TRELLIS_BROKER_URL ?? 'amqp://guest:guest@localhost:5672';
/** Same for both sides: messages in flight awaiting confirms, consumer prefetch, and the JSON body. */
const WINDOW = 256;
const PREFETCH = 100;
const PAYLOAD = { eventType: 'CREATE', key: 1, data: { productId: 1, name: 'x'.repeat(200), weight: 1 } };

/** Sends `count` messages with at most WINDOW unconfirmed, until `received` says all arrived; answers messages/s. */
async function drive(count: number, send: () => Promise<void>, allReceived: Promise<void>): Promise<number> {
  const start = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      next++;
      await send();
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  await allReceived;
  return count / ((performance.now() - start) / 1000);
}

/** Raw amqplib: a confirm channel publishing the JSON body, a consumer acking each message, on a durable queue. */
async function raw(count: number, destination: string): Promise<number> {
  const conn = await connect(BROKER);
  try {
    const pub = await conn.createConfirmChannel();
    const sub = await conn.createChannel();
    await pub.assertExchange(destination, 'topic', { durable: true });
    const queue = `${destination}.raw`;
    await pub.assertQueue(queue, { durable: true });
    await pub.bindQueue(queue, destination, '#');
    await sub.prefetch(PREFETCH);
    const c = counter(count);
    await sub.consume(queue, (msg: ConsumeMessage | null) => {
      if (msg === null) return;
      JSON.parse(msg.content.toString('utf8'));
      sub.ack(msg);
      c.hit();
    });
    const send = (): Promise<void> =>
      new Promise((resolve, reject) => {
        pub.publish(
          destination,
          destination,
          Buffer.from(JSON.stringify(PAYLOAD)),
          { contentType: 'application/json', deliveryMode: 2, messageId: randomBytes(16).toString('hex') },
          (err: unknown) =>
            err === null || err === undefined
              ? resolve()
              : reject(err instanceof Error ? err : new Error('publish failed')),
        );
      });
    const rate = await drive(count, send, c.done);
    await pub.deleteQueue(queue);
    await pub.deleteExchange(destination);
    return rate;
  } finally {
    await conn.close();
  }
}

/** The same through the binder: producer.send (confirmed) and a group consumer with the same prefetch. */
async function binder(count: number, destination: string): Promise<number> {
  const b = await createRabbitBinder({ url: BROKER });
  try {
    const c = counter(count);
    await b.consume<typeof PAYLOAD>({
      destination,
      group: 'bench',
      deadLetter: false,
      prefetch: PREFETCH,
      handler: () => c.hit(),
    });
    const producer = await b.producer<typeof PAYLOAD>({ destination });
    const rate = await drive(count, () => producer.send(PAYLOAD), c.done);
    return rate;
  } finally {
    await b.close();
    const conn = await connect(BROKER);
    const ch = await conn.createChannel();
    await ch.deleteQueue(`${destination}.bench`);
    await ch.deleteExchange(destination);
    await conn.close();
  }
}

/**
 * Messages/s through the RabbitMQ binder (confirmed send → group consumer → ack) against raw amqplib doing the same
 * with the same body, confirm window and prefetch, alternated in the same run; the figure is the ratio of medians.
 */
export const events: Scenario = {
  name: 'events',
  async run({ figure }) {
    const seconds = Number(process.env.BENCH_DURATION ?? '5');
    const count = Math.max(2000, Math.round(4000 * seconds));
    const tag = randomBytes(4).toString('hex');
    await raw(1000, `bench-warm-raw-${tag}`); // warm-up: JIT, broker queue processes
    await binder(1000, `bench-warm-binder-${tag}`);
    const rawRates: number[] = [];
    const binderRates: number[] = [];
    for (let round = 0; round < 3; round++) {
      // Alternate which goes first so neither always follows the other's garbage collection.
      if (round % 2 === 0) {
        rawRates.push(await raw(count, `bench-raw-${tag}-${round}`));
        binderRates.push(await binder(count, `bench-binder-${tag}-${round}`));
      } else {
        binderRates.push(await binder(count, `bench-binder-${tag}-${round}`));
        rawRates.push(await raw(count, `bench-raw-${tag}-${round}`));
      }
    }
    const rawRate = median(rawRates);
    const binderRate = median(binderRates);
    const note = `${count} msgs × 3 rounds, ${JSON.stringify(PAYLOAD).length} B JSON, ${WINDOW} unconfirmed, prefetch ${PREFETCH}`;
    figure('events rabbit binder / raw amqplib msgs/s', binderRate / rawRate, 'ratio', { min: 0.8, note });
    figure('events rabbit binder throughput', binderRate, 'msg/s', { note: 'confirmed send → consume → ack, median' });
    figure('events raw amqplib throughput', rawRate, 'msg/s', { note: 'same with amqplib alone, median' });
  },
};
