// The notes' walk through a partitioned landscape: `trellis up --partitions 2` (two instances of each core service,
// one per partition) on the embedded binder and on a Kafka broker `trellis up --binder kafka` starts itself; products
// created through the composite reach the core services; then the questions the notes ask Kafka's scripts, asked with
// `trellis events`: list the topics, describe `products` (two partitions), print every message of it from the
// beginning, and only those of partition 1.
import { mkdtemp, rm } from 'node:fs/promises';
import { acceptsConnections } from '@trellis/kit';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selectPartition } from '@trellis/clients/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortsEnv } from '../../kit/test/support/landscape.ts';
import { clientCredentialsToken } from '../../kit/test/support/oauth.ts';
import { eventsCommand } from '../src/events.ts';
import { main } from '../src/main.ts';

const CONFIG_REPO = resolve(import.meta.dirname, '../../config-repo');
const PRODUCT_IDS = [1, 2, 3, 4];

interface ProductEvent {
  readonly eventType: string;
  readonly key: number;
}

const lines = (text: string): ProductEvent[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ProductEvent);

const inPartition = (partition: number): number[] => PRODUCT_IDS.filter((id) => selectPartition(id, 2) === partition);

const LANDSCAPES = [
  { binder: 'embedded', flags: [] },
  { binder: 'kafka', flags: ['--binder', 'kafka', '--kafka-port', '0'] },
] as const;

describe.each(LANDSCAPES)('trellis up --partitions 2 on the $binder binder', ({ binder, flags }) => {
  let dataDir: string;
  let out = '';
  let err = '';
  const codes: number[] = [];

  /** The first URL the summary lists for a component. */
  function url(name: string): string {
    const line = out.split('\n').find((l) => l.startsWith(`  ${name} `)) ?? '';
    const found = line.split(/ +/).find((u) => u.startsWith('http://'));
    if (found === undefined) throw new Error(`no URL for ${name} in:\n${out}`);
    return found;
  }

  /** `trellis events …` against this landscape's binder, as the summary says to reach it. */
  async function events(...argv: string[]): Promise<string> {
    const brokerUrl = /events: Kafka broker (kafka:\/\/\S+)/.exec(out)?.[1];
    let printed = '';
    await eventsCommand(
      [...argv, '--data-dir', dataDir, ...(brokerUrl === undefined ? [] : ['--broker-url', brokerUrl])],
      {},
      {
        stdout: { write: (t: string) => (printed += t) },
        readStdin: () => Promise.resolve(''),
      },
    );
    return printed;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), `trellis-up-${binder}-`));
    await main(
      ['up', '--data-dir', dataDir, '--partitions', '2', ...flags, '--log-level', 'silent'],
      { ...freePortsEnv(), CONFIG_REPO },
      {
        stdout: { write: (t: string) => (out += t) },
        stderr: { write: (t: string) => (err += t) },
        exit: (code) => void codes.push(code),
      },
    );
    if (!out.includes('Trellis is up')) throw new Error(`landscape did not start: ${err}${out}`);
  }, 90_000);

  afterAll(async () => {
    if (codes.length === 0) process.emit('SIGTERM');
    for (let i = 0; i < 200 && codes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await rm(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('runs two instances of each core service and says where its events go', () => {
    for (const name of ['product', 'recommendation', 'review']) {
      expect(out).toMatch(new RegExp(`^ {2}${name}#1 +http://`, 'm'));
      expect(out).toMatch(new RegExp(`^ {2}${name}#2 +http://`, 'm'));
    }
    expect(out).toContain(
      binder === 'kafka'
        ? `started for this landscape (data in ${join(dataDir, 'kafka')})`
        : `events: embedded binder in ${join(dataDir, 'events.sqlite')}`,
    );
  });

  it('delivers the products created through the composite to the product service', async () => {
    const secret = /development client writer \/ (\S+)/.exec(out)?.[1] ?? '';
    const token = await clientCredentialsToken(
      { issuer: url('auth-server'), clientId: 'writer', secret },
      'product:read product:write',
    );
    for (const productId of PRODUCT_IDS) {
      const res = await fetch(`${url('product-composite')}/product-composite`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ productId, name: `product ${productId}`, weight: productId }),
      });
      expect(res.status).toBe(202);
    }
    // Both instances share the service's database: either answers for a product the other applied.
    await expect
      .poll(
        async () =>
          Promise.all(PRODUCT_IDS.map(async (id) => (await fetch(`${url('product#1')}/product/${id}`)).status)),
        { timeout: 20_000 },
      )
      .toEqual(PRODUCT_IDS.map(() => 200));
  }, 30_000);

  it('answers the notes’ questions: the topics, products’ two partitions, all its messages, partition 1’s', async () => {
    const topics = JSON.parse(await events('topics')) as { name: string; partitions: number }[];
    expect(topics).toEqual(
      expect.arrayContaining([
        { name: 'products', partitions: 2 },
        { name: 'recommendations', partitions: 2 },
        { name: 'reviews', partitions: 2 },
      ]),
    );

    // Each instance consumes its own partition: the group's lag falls to 0 on both.
    await expect
      .poll(async () => {
        const described = JSON.parse(await events('describe', 'products')) as {
          partitions: { partition: number; messages: number }[];
          groups: { group: string; partitions: { partition: number; lag: number }[] }[];
        };
        return {
          partitions: described.partitions.map((p) => [p.partition, p.messages]),
          groups: described.groups.map((g) => [g.group, g.partitions.map((p) => [p.partition, p.lag])]),
        };
      })
      .toEqual({
        partitions: [0, 1].map((p) => [p, inPartition(p).length]),
        groups: [
          [
            'productsGroup',
            [
              [0, 0],
              [1, 0],
            ],
          ],
        ],
      });

    const all = lines(await events('tail', 'products', '--from-beginning', '--timeout-ms', '1000'));
    // In order within a partition; across partitions, in any order.
    expect(all.map((e) => `${e.eventType} ${e.key}`).sort()).toEqual(PRODUCT_IDS.map((id) => `CREATE ${id}`));
    const partitionOne = lines(
      await events('tail', 'products', '--from-beginning', '--partition', '1', '--timeout-ms', '1000'),
    );
    expect(partitionOne.map((e) => e.key)).toEqual(inPartition(1));
  });

  it('stops everything on SIGTERM, the broker it started too', async () => {
    const broker = /events: Kafka broker kafka:\/\/([\d.]+):(\d+)/.exec(out);
    process.emit('SIGTERM');
    for (let i = 0; i < 200 && codes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(codes).toEqual([0]);
    if (broker !== null) expect(await acceptsConnections(broker[1] ?? '', Number(broker[2]))).toBe(false);
  }, 30_000);
});
