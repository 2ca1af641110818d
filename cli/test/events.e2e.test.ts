import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedBinder, createRabbitBinder, type EventBinder } from '@trellis/clients/events';
import { afterAll, describe, expect, it } from 'vitest';
import { eventsCommand } from '../src/events.ts';
import { cleanupBroker, uniqueName, waitFor } from '../../clients/test/events/helpers.ts';

const BROKER = process.env.TRELLIS_TEST_BROKER_URL ?? 'amqp://guest:guest@localhost:5672';
const dataDir = mkdtempSync(join(tmpdir(), 'trellis-cli-events-'));
const used: string[] = [];
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
  await cleanupBroker(used);
});

async function run(argv: string[], env: Record<string, string | undefined>): Promise<string> {
  let out = '';
  await eventsCommand(argv, env, {
    stdout: { write: (t: string) => (out += t) },
    readStdin: () => Promise.resolve(''),
  });
  return out;
}

const binders: Record<string, { open: () => Promise<EventBinder>; env: Record<string, string | undefined> }> = {
  embedded: {
    open: () => Promise.resolve(createEmbeddedBinder({ dataDir, pollIntervalMs: 20 })),
    env: { TRELLIS_DATA_DIR: dataDir },
  },
  rabbit: {
    open: () => createRabbitBinder({ url: BROKER }),
    env: { TRELLIS_BROKER_URL: BROKER, TRELLIS_DATA_DIR: dataDir },
  },
};

describe.each(Object.keys(binders))('trellis events dlq (%s binder)', (kind) => {
  it('lists, shows, replays and purges a group’s dead letters', async () => {
    const { open, env } = binders[kind] as (typeof binders)[string];
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
      expect(listed.every((l) => l.queue === `${d}.g`)).toBe(true);
      const shown = JSON.parse(await run(['dlq', 'show', d, 'g', listed[1]?.id ?? ''], env)) as { payload: string };
      expect(JSON.parse(shown.payload)).toEqual({ n: 2 });

      failing = false;
      expect(await run(['dlq', 'replay', d, 'g', '--id', listed[0]?.id ?? ''], env)).toBe(
        `replayed 1 dead letter from ${d}.g.dlq\n`,
      );
      await waitFor(() => handled.length === 1, 10_000, 'the replayed message');
      expect(handled).toEqual([1]);
      expect(await run(['dlq', 'purge', d, 'g'], env)).toBe(`purged 2 dead letters from ${d}.g.dlq\n`);
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
    await expect(run(['topics'], {})).rejects.toThrow(/unknown events command/);
    await expect(run(['dlq', 'frob', 'a', 'b'], { TRELLIS_DATA_DIR: dataDir })).rejects.toThrow(/unknown dlq action/);
  });
});
