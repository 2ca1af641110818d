// The Kafka binder across a broker SIGKILLed mid-stream and restarted on the same log directory: every send the
// binder confirmed (acks=all) is consumed at least once, duplicates are counted, the group resumes from its committed
// offsets by itself.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '@trellis/kit';
import { startKafkaBroker, type KafkaBroker } from '@trellis/kit/kafka-broker';
import { createKafkaBinder, EventsError, type EventBinder } from '../../src/events/index.ts';
import { Ledger, publishAll, settle, untilEachResumed, type Numbered } from './faults-ledger.ts';
import { delay, waitFor } from './helpers.ts';

const TOTAL = 5000;
const FAULT_AT = 2000;
/** Consumed before the handlers hold, so about 1,500 confirmed records are neither handled nor committed at the kill. */
const HOLD_AFTER = 500;
const PARTITIONS = 4;
const INSTANCES = ['a', 'b'];

describe('kafka binder, broker SIGKILLed mid-stream', () => {
  it('loses no confirmed record when the broker is killed and restarted on its log, and the group resumes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-kafka-faults-'));
    const options = { dataDir, port: await freePort(), controllerPort: await freePort() };
    let broker: KafkaBroker = await startKafkaBroker(options);
    const binders: EventBinder[] = [];
    const ledger = new Ledger(HOLD_AFTER);
    try {
      const open = async (clientId: string): Promise<EventBinder> => {
        // Shorter than the outage (a restart after SIGKILL takes 10-20 s): the binder gives up on the sends waiting
        // for the broker and the producer sends them again.
        const b = await createKafkaBinder({ brokers: broker.url, clientId, publishTimeoutMs: 5000 });
        binders.push(b);
        return b;
      };
      const producer = await (
        await open('faults-producer')
      ).producer<Numbered>({
        destination: 'faults',
        partitionKey: (e) => e.n,
        partitionCount: PARTITIONS,
      });
      // A group of two instances, each on its own binder as separate services would be: two partitions each.
      for (const instance of INSTANCES) {
        await (
          await open(`faults-consumer-${instance}`)
        ).consume<Numbered>({
          destination: 'faults',
          group: 'counted',
          concurrency: PARTITIONS,
          handler: ledger.handler(instance),
        });
      }
      let back: Promise<void> | undefined;
      await publishAll(producer, ledger, {
        total: TOTAL,
        window: 500,
        faultAt: FAULT_AT,
        fault: async () => {
          await waitFor(() => ledger.consumed >= HOLD_AFTER, 30_000, 'the consumers to start');
          ledger.atFault = { confirmed: ledger.confirmed.size, consumed: ledger.consumed };
          process.kill(broker.pid, 'SIGKILL');
          // Waits for the exit (the data directory is ours, so it stays).
          await broker.stop();
          back = (async () => {
            await delay(1000);
            broker = await startKafkaBroker(options);
            ledger.markRestarted();
          })();
        },
      });
      await back;
      await settle(ledger, 60_000);
      // An instance whose reconnection backoff outlasted the backlog rejoins later: it gets its share of what follows
      // (60 s: in a full suite run the group's rebalance after the restart took longer than 30).
      await untilEachResumed(producer, ledger, INSTANCES, 60_000);
      await settle(ledger, 30_000);
      await delay(500);
      for (const b of binders) expect((await b.health()).status).toBe('UP');
      // The coordinator's view, by Kafka's own tool: the two instances and no one else, each holding partitions. A
      // client given up on that stayed in the group rejoined subscribed to nothing, under the id its successor took.
      const members = await broker.tool('org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', [
        '--bootstrap-server',
        broker.bootstrap,
        '--describe',
        '--group',
        'counted',
        '--members',
      ]);
      // GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS, after a header line.
      const held = members
        .split('\n')
        .filter((line) => line.startsWith('counted '))
        .map((line) => Number(line.trim().split(/\s+/).at(-1)));
      expect(held).toHaveLength(INSTANCES.length);
      for (const count of held) expect(count).toBeGreaterThan(0);
    } finally {
      await Promise.all(binders.map((b) => b.close()));
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    console.log(`kafka SIGKILL: ${JSON.stringify(ledger.summary())}`);
    expect(ledger.confirmed.size).toBe(ledger.sent);
    expect(ledger.sent).toBeGreaterThanOrEqual(TOTAL);
    expect(ledger.lost()).toEqual([]);
    expect(ledger.strays()).toEqual([]);
    for (const instance of INSTANCES) expect(ledger.instance(instance).after).toBeGreaterThan(0);
  }, 180_000);
});

describe('kafka binder, broker gone', () => {
  it('rejects sends with broker_unavailable while the broker stays away; the group resumes when it is back', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'trellis-kafka-gone-'));
    const options = { dataDir, port: await freePort(), controllerPort: await freePort() };
    let broker = await startKafkaBroker(options);
    const binder = await createKafkaBinder({ brokers: broker.url, publishTimeoutMs: 2000 });
    const got: number[] = [];
    try {
      await binder.consume<Numbered>({ destination: 'gone', group: 'g', handler: (m) => void got.push(m.payload.n) });
      const producer = await binder.producer<Numbered>({ destination: 'gone' });
      await producer.send({ n: 1 });
      process.kill(broker.pid, 'SIGKILL');
      await broker.stop();
      // The idempotent client retries a produce request for as long as the broker is away; the binder used to wait
      // for that request to fail before it rejected a sender, so no send ever settled. One send rides in that
      // request, three more wait behind it. Bounded far beyond the publish timeout, so a send that never settles
      // fails here rather than by the test's timeout.
      const settled = (n: number): Promise<unknown> =>
        Promise.race([
          producer.send({ n }).then(
            () => 'confirmed',
            (err: unknown) => err,
          ),
          delay(30_000).then(() => 'still pending after 30 s'),
        ]);
      const first = settled(2);
      await delay(200);
      const outcomes = await Promise.all([first, ...[3, 4, 5].map(settled)]);
      for (const outcome of outcomes) {
        expect(outcome).toBeInstanceOf(EventsError);
        expect((outcome as EventsError).code).toBe('broker_unavailable');
      }
      expect((await binder.health()).details).toMatchObject({ pendingPublishes: 0 });
      broker = await startKafkaBroker(options);
      await producer.send({ n: 6 });
      // The consumer gave up its client while the broker was away, and that client could not leave the group. The
      // binder used to join as a new member, and the coordinator held the group's rebalance until the old member's
      // session timed out (45 s): 35 s is far more than a rejoin takes and less than that.
      await waitFor(() => got.includes(6), 35_000, 'the consumer to resume after the broker came back');
      // Sends the binder gave up on may still have been written by the request that carried them; the confirmed
      // ones arrive, 1 before 6. At least once: 1 comes again when the commit of its offset had not reached the
      // broker before it went away (seen on a loaded machine), which is redelivery, not loss.
      expect([...new Set(got.filter((n) => n === 1 || n === 6))]).toEqual([1, 6]);
    } finally {
      await binder.close();
      await broker.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
