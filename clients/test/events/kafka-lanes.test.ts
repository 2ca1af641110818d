// Per-partition lanes keep each partition's order while distinct partitions run side by side.
import { describe, expect, it } from 'vitest';
import { PartitionLanes } from '../../src/events/kafka-lanes.ts';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('PartitionLanes', () => {
  it('runs a partition in order and at most `concurrency` partitions at once', async () => {
    const done: string[] = [];
    let running = 0;
    let most = 0;
    const lanes = new PartitionLanes<string>(2, async (item) => {
      most = Math.max(most, ++running);
      await tick(item.endsWith('slow') ? 20 : 1);
      done.push(item);
      running--;
    });
    for (const item of ['0a-slow', '0b', '1a', '1b', '2a', '2b']) lanes.push(Number(item[0]), item);
    await lanes.idle();
    expect(most).toBe(2);
    expect(done.indexOf('0b')).toBeGreaterThan(done.indexOf('0a-slow'));
    expect(done.indexOf('1b')).toBeGreaterThan(done.indexOf('1a'));
    expect(done.indexOf('2b')).toBeGreaterThan(done.indexOf('2a'));
    expect(done.indexOf('1a')).toBeLessThan(done.indexOf('0a-slow')); // partition 1 did not wait for partition 0
  });

  it("drops a revoked partition's waiting items, letting the one in hand finish", async () => {
    const done: string[] = [];
    const lanes = new PartitionLanes<string>(1, async (item) => {
      await tick(5);
      done.push(item);
    });
    for (const item of ['a', 'b', 'c']) lanes.push(0, item);
    lanes.drop(0);
    await lanes.idle();
    expect(done).toEqual(['a']);
    expect(lanes.size).toBe(0);
  });

  it('starts nothing while held, finishing the item in hand, and goes on when released', async () => {
    const done: string[] = [];
    const lanes = new PartitionLanes<string>(2, async (item) => {
      await tick(5);
      done.push(item);
    });
    lanes.push(0, 'a');
    lanes.push(0, 'b');
    lanes.hold();
    lanes.push(1, 'c');
    await tick(30);
    expect(done).toEqual(['a']);
    lanes.release();
    await lanes.idle();
    expect(done.sort()).toEqual(['a', 'b', 'c']);
  });

  it('takes turns between waiting partitions instead of draining one first', async () => {
    const done: number[] = [];
    const lanes = new PartitionLanes<number>(1, async (partition) => {
      await Promise.resolve();
      done.push(partition);
    });
    for (let i = 0; i < 200; i++) lanes.push(0, 0);
    for (let i = 0; i < 200; i++) lanes.push(1, 1);
    await lanes.idle();
    expect(done.slice(0, 200).filter((p) => p === 1).length).toBeGreaterThan(50);
  });
});
