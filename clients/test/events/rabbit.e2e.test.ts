import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { HealthRegistry } from '@trellis/kit';
import { createRabbitBinder, registerBinderHealth, type EventMessage } from '../../src/events/index.ts';
import { binderSemantics } from './semantics.ts';
import { BROKER, cleanupBroker, delay, rabbitctl, uniqueName, waitFor } from './helpers.ts';

const run = promisify(execFile);
const used: string[] = [];
afterAll(async () => {
  await cleanupBroker(used);
});

async function publishRaw(destination: string, routingKey: string, body: Buffer): Promise<void> {
  const conn = await connect(BROKER);
  const ch = await conn.createConfirmChannel();
  ch.publish(destination, routingKey, body, { contentType: 'application/json', messageId: uniqueName('raw') });
  await ch.waitForConfirms();
  await conn.close();
}

/** Closes our connection from the broker's side, as a broker restart or a network cut would. */
async function closeConnectionNamed(name: string): Promise<void> {
  // The table output gives the pid in the form close_connection accepts (the JSON output does not).
  const { stdout } = await run('rabbitmqctl', [
    'list_connections',
    'pid',
    'client_properties',
    '-q',
    '--no-table-headers',
  ]);
  const line = stdout.split('\n').find((l) => l.includes(`"connection_name","longstr","${name}"`) || l.includes(name));
  const pid = line?.split('\t')[0];
  if (pid === undefined || pid === '') throw new Error(`no connection named ${name} on the broker`);
  await run('rabbitmqctl', ['close_connection', pid, 'test drop']);
}

binderSemantics(
  'rabbit',
  async () => ({ binder: await createRabbitBinder({ url: BROKER, publishTimeoutMs: 10_000 }), publishRaw }),
  used,
);

interface Queue {
  name: string;
  durable: boolean;
  /** rabbitmqctl lists arguments as [name, AMQP type, value] triples. */
  arguments: [string, string, unknown][];
}
interface Binding {
  source_name: string;
  destination_name: string;
  routing_key: string;
}

describe('rabbit binder on the broker', () => {
  it("declares exactly Spring Cloud Stream's exchanges, queues, bindings and DLQ", async () => {
    const d = uniqueName('names');
    used.push(d);
    const binder = await createRabbitBinder({ url: BROKER });
    try {
      await binder.producer({ destination: d, requiredGroups: ['plain'] });
      await binder.consume({
        destination: d,
        group: 'parts',
        partitioned: { instanceIndex: 1, instanceCount: 2 },
        handler: () => undefined,
      });
      const anon = await binder.consume({ destination: d, handler: () => undefined });
      const queues = (await rabbitctl<Queue>('list_queues', 'name', 'durable', 'arguments')).filter((q) =>
        q.name.startsWith(`${d}.`),
      );
      const byName = Object.fromEntries(queues.map((q) => [q.name, q]));
      expect(Object.keys(byName).sort()).toEqual(
        [`${d}.parts-1`, `${d}.parts.dlq`, `${d}.plain`, `${d}.plain.dlq`, anon.queue].sort(),
      );
      const args = (q: Queue | undefined): string[] => (q?.arguments ?? []).map((a) => a.join(' ')).sort();
      expect(byName[`${d}.plain`]?.durable).toBe(true);
      expect(args(byName[`${d}.plain`])).toEqual([
        'x-dead-letter-exchange longstr DLX',
        `x-dead-letter-routing-key longstr ${d}.plain`,
      ]);
      expect(byName[`${d}.parts-1`]?.durable).toBe(true);
      expect(args(byName[`${d}.parts-1`])).toEqual([
        'x-dead-letter-exchange longstr DLX',
        `x-dead-letter-routing-key longstr ${d}.parts-1`,
      ]);
      expect(args(byName[`${d}.plain.dlq`])).toEqual([]);
      expect(byName[`${d}.plain.dlq`]?.durable).toBe(true);
      expect(byName[anon.queue]?.durable).toBe(false);
      expect(anon.queue).toMatch(new RegExp(`^${d}\\.anonymous\\.`));

      const exchanges = await rabbitctl<{ name: string; type: string; durable: boolean }>(
        'list_exchanges',
        'name',
        'type',
        'durable',
      );
      expect(exchanges.find((e) => e.name === d)).toEqual({ name: d, type: 'topic', durable: true });
      expect(exchanges.find((e) => e.name === 'DLX')).toEqual({ name: 'DLX', type: 'direct', durable: true });

      const bindings = (
        await rabbitctl<Binding>('list_bindings', 'source_name', 'destination_name', 'routing_key')
      ).filter((b) => b.destination_name.startsWith(`${d}.`) && b.source_name !== '');
      const rows = bindings.map((b) => `${b.source_name} -> ${b.destination_name} [${b.routing_key}]`).sort();
      expect(rows).toEqual(
        [
          `${d} -> ${d}.plain [#]`,
          `${d} -> ${d}.parts-1 [${d}-1]`,
          `${d} -> ${anon.queue} [#]`,
          `DLX -> ${d}.plain.dlq [${d}.plain]`,
          `DLX -> ${d}.parts.dlq [${d}.parts-1]`,
        ].sort(),
      );
    } finally {
      await binder.close();
    }
  });

  it('sends JSON with contentType application/json, scst_partition and the partition routing key', async () => {
    const d = uniqueName('wire');
    used.push(d);
    const binder = await createRabbitBinder({ url: BROKER });
    const conn = await connect(BROKER);
    try {
      const ch = await conn.createChannel();
      await ch.assertExchange(d, 'topic', { durable: true });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, d, '#');
      const producer = await binder.producer<{ id: number }>({
        destination: d,
        partitionKey: (e) => e.id,
        partitionCount: 4,
      });
      await producer.send({ id: 6 });
      await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 1, 5000, 'the raw message');
      const msg = await ch.get(queue, { noAck: true });
      if (msg === false) throw new Error('no message');
      expect(msg.fields.routingKey).toBe(`${d}-2`); // Integer.hashCode(6) % 4
      expect(msg.properties.contentType).toBe('application/json');
      expect(msg.properties.headers?.['scst_partition']).toBe(2);
      expect(msg.properties.deliveryMode).toBe(2);
      expect(JSON.parse(msg.content.toString())).toEqual({ id: 6 });
    } finally {
      await conn.close();
      await binder.close();
    }
  });

  it('loses no confirmed message when the broker drops the connection mid-stream', async () => {
    const d = uniqueName('drop');
    used.push(d);
    const name = uniqueName('trellis-drop');
    const binder = await createRabbitBinder({
      url: BROKER,
      connectionName: name,
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      publishTimeoutMs: 15_000,
    });
    const health = new HealthRegistry();
    registerBinderHealth(health, binder);
    try {
      const received = new Set<number>();
      await binder.consume<{ n: number }>({
        destination: d,
        group: 'g',
        prefetch: 20,
        handler: async (m: EventMessage<{ n: number }>) => {
          received.add(m.payload.n);
          await delay(1);
        },
      });
      const producer = await binder.producer<{ n: number }>({ destination: d, requiredGroups: ['g'] });
      const before = (await binder.health()).details?.['connectedSince'];
      const confirmed: number[] = [];
      const failed: unknown[] = [];
      const sends: Promise<void>[] = [];
      for (let n = 0; n < 400; n++) {
        sends.push(
          producer.send({ n }).then(
            () => void confirmed.push(n),
            (err: unknown) => void failed.push(err),
          ),
        );
        if (n === 150) {
          await closeConnectionNamed(name);
          expect((await health.check('liveness')).status).not.toBe('DOWN');
        }
        if (n % 10 === 0) await delay(1);
      }
      await Promise.all(sends);
      expect(failed).toEqual([]);
      expect(confirmed).toHaveLength(400);
      await waitFor(() => confirmed.every((n) => received.has(n)), 15_000, 'every confirmed message');
      expect(received.size).toBe(400);
      expect(await health.check('readiness')).toMatchObject({ status: 'UP' });
      // The connection really was replaced mid-stream.
      expect((await binder.health()).details?.['connectedSince']).not.toBe(before);
    } finally {
      await binder.close();
    }
  });

  it('fails a send after the publish timeout while the broker is unreachable, and reports DOWN on readiness only', async () => {
    const binder = await createRabbitBinder({
      url: 'amqp://guest:guest@127.0.0.1:1', // nothing listens on port 1
      publishTimeoutMs: 300,
      reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
    });
    const health = new HealthRegistry();
    registerBinderHealth(health, binder);
    try {
      await expect(binder.producer({ destination: uniqueName('nowhere') })).rejects.toMatchObject({
        code: 'broker_unavailable',
      });
      const readiness = await health.check('readiness');
      expect(readiness.status).toBe('DOWN');
      expect(readiness.components?.['binders']?.details).toMatchObject({ binder: 'rabbit' });
      expect(JSON.stringify(readiness)).not.toContain('guest:guest');
      expect((await health.check('liveness')).status).toBe('UNKNOWN'); // no liveness component: not DOWN
    } finally {
      await binder.close();
    }
  });
});
