import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lowerThreadPoolPriority, THREAD_POOL_NICE } from '../src/thread-pool.ts';

/** Each thread of this process: its name and nice value (/proc/self/task/<tid>/stat, field 19). */
function threads(): { name: string; nice: number }[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // The name is in parentheses and may hold spaces: the fields after it are counted from its closing one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]) };
  });
}

describe('lowerThreadPoolPriority', () => {
  it('lowers every libuv pool thread and no other thread', async () => {
    const lowered = await lowerThreadPoolPriority();
    const pool = threads().filter((t) => t.name === 'libuv-worker');
    expect(pool.length).toBeGreaterThan(0);
    expect(lowered).toBe(pool.length);
    expect(pool.every((t) => t.nice === THREAD_POOL_NICE)).toBe(true);
    expect(threads().filter((t) => t.name !== 'libuv-worker' && t.nice !== 0)).toEqual([]);
  });
});
