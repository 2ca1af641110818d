// The notes' walk through a partitioned landscape: `trellis up --partitions 2` (two instances of each core service,
// one per partition), a product or two created, then the questions the notes ask Kafka's scripts, asked with
// `trellis events`: list the topics, describe `products` (two partitions), print every message of it from the
// beginning, and only those of partition 1.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selectPartition } from '@trellis/clients/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePortsEnv } from '../../kit/test/support/landscape.ts';
import { clientCredentialsToken } from '../../kit/test/support/oauth.ts';
import { eventsCommand } from '../src/events.ts';
import { main } from '../src/main.ts';

const CONFIG_REPO = resolve(import.meta.dirname, '../../config-repo');

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

async function events(...argv: string[]): Promise<string> {
  let printed = '';
  await eventsCommand(
    [...argv, '--data-dir', dataDir],
    {},
    {
      stdout: { write: (t: string) => (printed += t) },
      readStdin: () => Promise.resolve(''),
    },
  );
  return printed;
}

interface ProductEvent {
  readonly eventType: string;
  readonly key: number;
}

const lines = (text: string): ProductEvent[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as ProductEvent);

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'trellis-up-events-'));
  await main(
    ['up', '--data-dir', dataDir, '--partitions', '2', '--log-level', 'silent'],
    { ...freePortsEnv(), CONFIG_REPO },
    {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      exit: (code) => void codes.push(code),
    },
  );
  if (!out.includes('Trellis is up')) throw new Error(`landscape did not start: ${err}${out}`);
}, 60_000);

afterAll(async () => {
  process.emit('SIGTERM');
  for (let i = 0; i < 100 && codes.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await rm(dataDir, { recursive: true, force: true });
});

describe('trellis up --partitions 2, inspected with trellis events', () => {
  it('runs two instances of each core service and says where its events go', () => {
    for (const name of ['product', 'recommendation', 'review']) {
      expect(out).toMatch(new RegExp(`^ {2}${name}#1 +http://`, 'm'));
      expect(out).toMatch(new RegExp(`^ {2}${name}#2 +http://`, 'm'));
    }
    expect(out).toContain(`events: embedded binder in ${join(dataDir, 'events.sqlite')}`);
  });

  it('answers the notes’ questions: the topics, products’ two partitions, all its messages, partition 1’s', async () => {
    const secret = /development client writer \/ (\S+)/.exec(out)?.[1] ?? '';
    const token = await clientCredentialsToken(
      { issuer: url('auth-server'), clientId: 'writer', secret },
      'product:read product:write',
    );
    const ids = [1, 2, 3, 4];
    for (const productId of ids) {
      const res = await fetch(`${url('product-composite')}/product-composite`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ productId, name: `product ${productId}`, weight: productId }),
      });
      expect(res.status).toBe(202);
    }

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
        partitions: [0, 1].map((p) => [p, ids.filter((id) => selectPartition(id, 2) === p).length]),
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

    const all = lines(await events('tail', 'products', '--from-beginning', '--timeout-ms', '500'));
    expect(all.map((e) => [e.eventType, e.key])).toEqual(ids.map((id) => ['CREATE', id]));
    const partitionOne = lines(
      await events('tail', 'products', '--from-beginning', '--partition', '1', '--timeout-ms', '500'),
    );
    expect(partitionOne.map((e) => e.key)).toEqual(ids.filter((id) => selectPartition(id, 2) === 1));
  });
});
