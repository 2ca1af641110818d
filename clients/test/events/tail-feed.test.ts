// TailFeed's idle clock: it starts when the source reads, so a slow start never ends a tail that read nothing yet.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TailFeed } from '../../src/events/inspect.ts';

async function collect(feed: TailFeed<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const item of feed) out.push(item);
  return out;
}

describe('TailFeed', () => {
  it('waits for its source to read before the idle clock runs', async () => {
    const feed = new TailFeed<number>({ idleMs: 20 });
    const items = collect(feed);
    await sleep(100); // a source still connecting, five idle periods long
    feed.push(1);
    feed.reading();
    expect(await items).toEqual([1]);
  });

  it('ends once nothing came for idleMs after the source began reading, keeping what came before', async () => {
    const feed = new TailFeed<number>({ idleMs: 30 });
    const items = collect(feed);
    feed.reading();
    feed.push(1);
    await sleep(10);
    feed.push(2);
    expect(await items).toEqual([1, 2]);
    feed.push(3);
    expect(await collect(feed)).toEqual([]);
  });
});
