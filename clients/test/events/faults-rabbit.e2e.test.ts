// The RabbitMQ binder across broker restarts mid-stream (SIGKILL, and stop_app/start_app), on a node of the test's own:
// every send the binder confirmed is consumed at least once, duplicates are counted, the consumers resume by
// themselves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitBinder, type EventBinder } from '../../src/events/index.ts';
import { Ledger, publishAll, settle, untilEachResumed, type Numbered } from './faults-ledger.ts';
import { startRabbitNode, type RabbitNode } from './rabbit-node.ts';
import { delay, uniqueName, waitFor } from './helpers.ts';

const TOTAL = 5000;
const FAULT_AT = 2000;
/** Consumed before the handlers hold, so about 1,400 confirmed messages wait in the queue when the broker goes. */
const HOLD_AFTER = 500;
const INSTANCES = ['a', 'b'];
/** Sends in flight at once: a burst, so some are unconfirmed when the broker goes. */
const WINDOW = 500;

let node: RabbitNode;
beforeAll(async () => {
  node = await startRabbitNode();
}, 90_000);
afterAll(async () => {
  await node?.stop();
});

/**
 * One producer service and a consumer group of two instances, each on its own connection, as separate services would
 * be. `fault` breaks the broker and answers `back`, which resolves once the broker is back (a promise in an object,
 * as an awaited promise of a promise would wait for both). A send waits for the broker up to `publishTimeoutMs`, then
 * the binder rejects it and the producer sends it again.
 */
async function runThrough(publishTimeoutMs: number, fault: () => Promise<{ back: Promise<void> }>): Promise<Ledger> {
  const destination = uniqueName('faults');
  const group = 'counted';
  const ledger = new Ledger(HOLD_AFTER);
  const binders: (EventBinder & { ready(timeoutMs?: number): Promise<void> })[] = [];
  const open = async (name: string) => {
    const b = await createRabbitBinder({ url: node.url, connectionName: name, publishTimeoutMs });
    binders.push(b);
    return b;
  };
  try {
    const producerBinder = await open('faults-producer');
    const producer = await producerBinder.producer<Numbered>({ destination, requiredGroups: [group] });
    for (const instance of INSTANCES) {
      const binder = await open(`faults-consumer-${instance}`);
      await binder.consume<Numbered>({
        destination,
        group,
        concurrency: 4,
        prefetch: 50,
        handler: ledger.handler(instance),
      });
    }
    let back: Promise<void> | undefined;
    await publishAll(producer, ledger, {
      total: TOTAL,
      window: WINDOW,
      faultAt: FAULT_AT,
      fault: async () => {
        // The consumers are mid-stream too: some consumed, some in hand, the rest queued behind them.
        await waitFor(() => ledger.consumed >= HOLD_AFTER, 30_000, 'the consumers to start');
        ledger.atFault = { confirmed: ledger.confirmed.size, consumed: ledger.consumed };
        back = (await fault()).back.then(() => ledger.markRestarted());
      },
    });
    await back;
    await settle(ledger, 60_000);
    await untilEachResumed(producer, ledger, INSTANCES, 30_000);
    await settle(ledger, 30_000);
    // The late ones: a redelivery racing the last acknowledgements would still count as a duplicate.
    await delay(500);
    for (const b of binders) expect((await b.health()).status).toBe('UP');
    return ledger;
  } finally {
    await Promise.all(binders.map((b) => b.close()));
  }
}

function check(ledger: Ledger, label: string): void {
  console.log(`rabbit ${label}: ${JSON.stringify(ledger.summary())}`);
  // The producer retries every send the binder gives up on, so in the end every number is confirmed.
  expect(ledger.confirmed.size).toBe(ledger.sent);
  expect(ledger.sent).toBeGreaterThanOrEqual(TOTAL);
  expect(ledger.lost()).toEqual([]);
  expect(ledger.strays()).toEqual([]);
  // Each instance of the group took deliveries after the restart: both resumed on their own.
  for (const instance of INSTANCES) expect(ledger.instance(instance).after).toBeGreaterThan(0);
}

describe('rabbit binder, broker restarted mid-stream', () => {
  it('loses no confirmed message when the broker is SIGKILLed and restarted, and the group resumes', async () => {
    // Shorter than the outage: the binder gives up on the sends waiting for the broker and the producer sends again.
    const ledger = await runThrough(3000, async () => {
      await node.kill();
      const back = (async () => {
        // Sends pile up against the dead broker meanwhile.
        await delay(1000);
        await node.start();
      })();
      return { back };
    });
    check(ledger, 'SIGKILL');
  }, 120_000);

  it('loses no confirmed message across stop_app/start_app, and the group resumes', async () => {
    // Longer than the outage: the binder itself holds the sends until the broker is back.
    const ledger = await runThrough(60_000, async () => {
      await node.stopApp();
      const back = (async () => {
        await delay(1000);
        await node.startApp();
      })();
      return { back };
    });
    check(ledger, 'stop_app');
  }, 120_000);
});
