import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaBroker, type KafkaBroker } from '@trellis/kit/kafka-broker';
import {
  createEmbeddedBinder,
  createKafkaBinder,
  createRabbitBinder,
  selectPartition,
  type EventBinder,
  type Producer,
  type TailedMessage,
} from '@trellis/clients/events';
import { afterAll, describe, expect, it } from 'vitest';
import { eventsCommand } from '../src/events.ts';
import { main } from '../src/main.ts';
import { cleanupBroker, uniqueName, waitFor } from '../../clients/test/events/helpers.ts';

const BROKER = process.env.TRELLIS_TEST_BROKER_URL ?? 'amqp://guest:guest@localhost:5672';
const dataDir = mkdtempSync(join(tmpdir(), 'trellis-cli-events-'));
const used: string[] = [];
// Started by the first Kafka case only: the other binders' cases need no JVM.
let kafka: Promise<KafkaBroker> | undefined;
const kafkaBroker = (): Promise<KafkaBroker> => (kafka ??= startKafkaBroker());
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
  await cleanupBroker(used);
  await (await kafka)?.stop();
}, 60_000);

async function run(argv: string[], env: Record<string, string | undefined>): Promise<string> {
  let out = '';
  await eventsCommand(argv, env, {
    stdout: { write: (t: string) => (out += t) },
    readStdin: () => Promise.resolve(''),
  });
  return out;
}

interface BinderCase {
  readonly open: () => Promise<EventBinder>;
  readonly env: Record<string, string | undefined>;
  /** Whether it keeps consumed messages, so a tail can start from the beginning. */
  readonly rereads: boolean;
}

const binders: Record<string, BinderCase> = {
  embedded: {
    open: () => Promise.resolve(createEmbeddedBinder({ dataDir, pollIntervalMs: 20 })),
    env: { TRELLIS_DATA_DIR: dataDir },
    rereads: true,
  },
  rabbit: {
    open: () => createRabbitBinder({ url: BROKER }),
    env: { TRELLIS_BROKER_URL: BROKER, TRELLIS_DATA_DIR: dataDir },
    rereads: false,
  },
};

interface DeadLetterCase {
  readonly open: () => Promise<EventBinder>;
  readonly env: () => Promise<Record<string, string | undefined>>;
  /** Where a dead letter of destination d, group g, failed, and the queue or topic that keeps it. */
  readonly failedIn: (d: string) => string;
  readonly deadLetters: (d: string) => string;
}

const queueNames = { failedIn: (d: string) => `${d}.g`, deadLetters: (d: string) => `${d}.g.dlq` };
const deadLetterCases: Record<string, DeadLetterCase> = {
  embedded: { ...binders.embedded!, env: () => Promise.resolve(binders.embedded!.env), ...queueNames },
  rabbit: { ...binders.rabbit!, env: () => Promise.resolve(binders.rabbit!.env), ...queueNames },
  // Spring's Kafka binder names the topic error.<destination>.<group>; a letter failed in the destination's topic.
  kafka: {
    open: async () => createKafkaBinder({ brokers: (await kafkaBroker()).url }),
    env: async () => ({ TRELLIS_BINDER: 'kafka', TRELLIS_BROKER_URL: (await kafkaBroker()).url }),
    failedIn: (d) => d,
    deadLetters: (d) => `error.${d}.g`,
  },
};

describe.each(Object.keys(deadLetterCases))('trellis events dlq (%s binder)', (kind) => {
  it('lists, shows, replays and purges a group’s dead letters', { timeout: 120_000 }, async () => {
    const { open, failedIn, deadLetters } = deadLetterCases[kind] as DeadLetterCase;
    const env = await deadLetterCases[kind]!.env();
    const d = uniqueName('cli');
    used.push(d);
    const binder = await open();
    try {
      let failing = true;
      const handled: number[] = [];
      await binder.consume<{ n: number }>({
        destination: d,
        group: 'g',
        maxAttempts: 1,
        handler: (m) => {
          if (failing) throw new Error(`refused ${m.payload.n}`);
          handled.push(m.payload.n);
        },
      });
      const producer = await binder.producer<{ n: number }>({ destination: d });
      for (const n of [1, 2, 3]) await producer.send({ n });
      const dlq = binder.deadLetters(d, 'g');
      await waitFor(async () => (await dlq.list()).length === 3, 10_000, 'three dead letters');

      const listed = JSON.parse(await run(['dlq', 'list', d, 'g'], env)) as {
        id: string;
        reason: string;
        queue: string;
      }[];
      expect(listed.map((l) => l.reason)).toEqual(['refused 1', 'refused 2', 'refused 3']);
      expect(listed.every((l) => l.queue === failedIn(d))).toBe(true);
      const shown = JSON.parse(await run(['dlq', 'show', d, 'g', listed[1]?.id ?? ''], env)) as { payload: string };
      expect(JSON.parse(shown.payload)).toEqual({ n: 2 });

      failing = false;
      expect(await run(['dlq', 'replay', d, 'g', '--id', listed[0]?.id ?? ''], env)).toBe(
        `replayed 1 dead letter from ${deadLetters(d)}\n`,
      );
      await waitFor(() => handled.length === 1, 10_000, 'the replayed message');
      expect(handled).toEqual([1]);
      expect(await run(['dlq', 'purge', d, 'g'], env)).toBe(`purged 2 dead letters from ${deadLetters(d)}\n`);
      expect(JSON.parse(await run(['dlq', 'list', d, 'g'], env))).toEqual([]);
      await expect(run(['dlq', 'show', d, 'g', 'nope'], env)).rejects.toMatchObject({ code: 'not_found' });
      await expect(run(['dlq', 'list', d, 'missing'], env)).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      await binder.close();
    }
  });
});

describe('trellis events usage errors', () => {
  it('names what is missing', async () => {
    await expect(run(['dlq', 'list', 'products'], {})).rejects.toThrow(/missing <destination> <group>/);
    await expect(run(['topic'], {})).rejects.toThrow(/unknown events command "topic"/);
    await expect(run(['describe'], {})).rejects.toThrow(/missing <destination>/);
    await expect(run(['tail', 'a', 'b'], {})).rejects.toThrow(/unexpected argument b/);
    await expect(run(['topics', '--binder', 'kafka', '--broker-url', BROKER], {})).rejects.toThrow(
      /--binder kafka \(TRELLIS_BINDER\) does not match --broker-url \(TRELLIS_BROKER_URL\), a rabbit URL/,
    );
    await expect(run(['dlq', 'frob', 'a', 'b'], { TRELLIS_DATA_DIR: dataDir })).rejects.toThrow(/unknown dlq action/);
  });
});

interface Product {
  readonly key: number;
}

const payloads = (out: string): Product[] =>
  out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Product);
const keys = (products: readonly Product[]): number[] => products.map((p) => p.key);
const inPartition = (partition: number, all: readonly number[]): number[] =>
  all.filter((key) => selectPartition(key, 2) === partition);

/** Names a broker cannot list are named on the command line, as for anything outside the landscape's own. */
const named = (kind: string, d: string): string[] => (kind === 'rabbit' ? ['--destination', d, '--group', 'g'] : []);

interface Products {
  readonly binder: EventBinder;
  readonly d: string;
  readonly producer: Producer<Product>;
}

/** A fresh destination like `products`: two partitions, group g declared by the producer, `keys` sent to it. */
async function withProducts(
  open: () => Promise<EventBinder>,
  keys: readonly number[],
  work: (products: Products) => Promise<void>,
): Promise<void> {
  const d = uniqueName('products');
  used.push(d);
  const binder = await open();
  try {
    const producer = await binder.producer<Product>({
      destination: d,
      partitionKey: (p) => p.key,
      partitionCount: 2,
      requiredGroups: ['g'],
    });
    for (const key of keys) await producer.send({ key });
    await work({ binder, d, producer });
  } finally {
    await binder.close();
  }
}

// The notes' questions, asked Kafka's scripts, asked every binder: list the topics, describe `products` (two
// partitions), print every message of it from the beginning, and only those of partition 1.
describe.each(Object.keys(binders))('trellis events topics, describe, tail (%s binder)', (kind) => {
  const { open, env, rereads } = binders[kind] as BinderCase;

  it('lists the destination with its two partitions and describes each partition of its group with its lag', async () => {
    await withProducts(open, [1, 2, 3, 4, 5, 6], async ({ binder, d }) => {
      const topics = JSON.parse(await run(['topics', ...named(kind, d)], env)) as {
        name: string;
        partitions: number;
      }[];
      expect(topics).toContainEqual({ name: d, partitions: 2 });

      // One instance reads partition 0 and has consumed it all; nobody reads partition 1 yet.
      const handled: number[] = [];
      await binder.consume<Product>({
        destination: d,
        group: 'g',
        partitioned: { instanceIndex: 0, instanceCount: 2 },
        handler: (m) => void handled.push(m.payload.key),
      });
      await waitFor(() => handled.length === inPartition(0, [1, 2, 3, 4, 5, 6]).length, 10_000, 'partition 0');
      const described = JSON.parse(await run(['describe', d, ...named(kind, d)], env)) as {
        partitions: { partition: number }[];
        groups: { group: string; partitions: { partition: number; queue: string; lag: number }[] }[];
      };
      expect(described.partitions.map((p) => p.partition)).toEqual([0, 1]);
      await waitFor(
        async () => {
          const again = JSON.parse(await run(['describe', d, ...named(kind, d)], env)) as typeof described;
          return again.groups[0]?.partitions[0]?.lag === 0;
        },
        10_000,
        'partition 0 acknowledged',
      );
      expect(described.groups.map((g) => g.group)).toEqual(['g']);
      expect(described.groups[0]?.partitions.map((p) => [p.partition, p.queue])).toEqual([
        [0, `${d}.g-0`],
        [1, `${d}.g-1`],
      ]);
      expect(described.groups[0]?.partitions[1]?.lag).toBe(inPartition(1, [1, 2, 3, 4, 5, 6]).length);
      await expect(run(['describe', `${d}-missing`], env)).rejects.toMatchObject({ code: 'not_found' });
    });
  });

  it('prints every message from the beginning, or only partition 1, where the binder keeps them; else those waiting for a group', async () => {
    const sent = [1, 2, 3, 4, 5, 6, 7, 8];
    await withProducts(open, sent, async ({ d, producer }) => {
      const tail = (...flags: string[]): Promise<string> => run(['tail', d, '--timeout-ms', '400', ...flags], env);
      if (rereads) {
        expect(keys(payloads(await tail('--from-beginning')))).toEqual(sent);
        expect(keys(payloads(await tail('--from-beginning', '--partition', '1')))).toEqual(inPartition(1, sent));
      } else {
        await expect(tail('--from-beginning')).rejects.toMatchObject({ code: 'invalid_options' });
      }
      // What the group has not consumed yet: all of it (nobody reads the group), left where it is.
      expect(keys(payloads(await tail('--group', 'g')))).toEqual([...inPartition(0, sent), ...inPartition(1, sent)]);
      expect(keys(payloads(await tail('--group', 'g', '--partition', '1')))).toEqual(inPartition(1, sent));
      const lags = (
        JSON.parse(await run(['describe', d, ...named(kind, d)], env)) as {
          groups: { partitions: { lag: number }[] }[];
        }
      ).groups[0]?.partitions.map((p) => p.lag);
      expect(lags).toEqual([inPartition(0, sent).length, inPartition(1, sent).length]);

      // New messages as they come, each with its partition, until nothing came for --timeout-ms. The tail starts
      // at some point while messages flow (later on a loaded machine): keys go on until it has printed one, then ten
      // more, and it must have seen every partition-1 message from its first one on.
      let printed = '';
      const live = eventsCommand(['tail', d, '--partition', '1', '--json', '--timeout-ms', '1500'], env, {
        stdout: { write: (t: string) => (printed += t) },
        readStdin: () => Promise.resolve(''),
      });
      const more: number[] = [];
      for (let key = 100, after = 0; after < 10 && key < 400; key++) {
        await producer.send({ key });
        more.push(key);
        if (printed !== '') after++;
        await new Promise((r) => setTimeout(r, 50));
      }
      await live;
      const seen = printed
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as TailedMessage);
      const seenKeys = seen.map((m) => (JSON.parse(m.payload) as Product).key);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((m) => m.partition === 1)).toBe(true);
      expect(seenKeys).toEqual(inPartition(1, more).filter((key) => key >= (seenKeys[0] ?? 0)));
    });
  });
});

describe('trellis events through the trellis command', () => {
  it('prints a refusal as one line and exits 2', async () => {
    let err = '';
    const codes: number[] = [];
    await main(
      ['events', 'tail', 'products', '--from-beginning', '--partition', 'x'],
      {},
      {
        stderr: { write: (t: string) => (err += t) },
        exit: (code) => void codes.push(code),
      },
    );
    expect(err).toBe('trellis: invalid --partition: "x" is not a whole number from 0 to 9999\n');
    expect(codes).toEqual([2]);
  });
});
