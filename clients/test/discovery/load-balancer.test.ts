import { describe, expect, it } from 'vitest';
import { RoundRobin } from '../../src/discovery/load-balancer.ts';
import type { ServiceInstance } from '../../src/discovery/wire.ts';
import { instance } from './helpers.ts';

const three = [instance('review', 'r0'), instance('review', 'r1'), instance('review', 'r2')];

describe('RoundRobin', () => {
  it('starts at a random position per application and then walks the list in order', () => {
    // random 0.5 -> start 500; Spring increments before use: 501 % 3 = 0 -> r0, then r1, r2, r0.
    const lb = new RoundRobin({ random: () => 0.5 });
    expect([1, 2, 3, 4].map(() => lb.choose('review', three)?.instanceId)).toEqual(['r0', 'r1', 'r2', 'r0']);
    const other = new RoundRobin({ random: () => 0.001 });
    // start 1 -> 2 % 3 = 2: a different random source gives a different first pick.
    expect(other.choose('review', three)?.instanceId).toBe('r2');
  });

  it('keeps one position per application, whatever the case of its name', () => {
    const values = [0.5, 0.001];
    const lb = new RoundRobin({ random: () => values.shift() ?? 0 });
    expect(lb.choose('review', three)?.instanceId).toBe('r0');
    expect(lb.choose('product', three)?.instanceId).toBe('r2');
    expect(lb.choose('REVIEW', three)?.instanceId).toBe('r1');
  });

  it('retries on the instance after the one tried, skipping excluded ones, without moving the position', () => {
    const lb = new RoundRobin({ random: () => 0.5 });
    const first = lb.choose('review', three);
    expect(first?.instanceId).toBe('r0');
    const [r0, r1, r2] = three as [ServiceInstance, ServiceInstance, ServiceInstance];
    expect(lb.next(three, r0, new Set(['r0']))?.instanceId).toBe('r1');
    expect(lb.next(three, r2, new Set(['r2']))?.instanceId).toBe('r0');
    expect(lb.next(three, r0, new Set(['r0', 'r1']))?.instanceId).toBe('r2');
    expect(lb.next(three, r1, new Set(['r0', 'r1', 'r2']))).toBeUndefined();
    // The retries did not move REVIEW's position: the next request goes on from r0 to r1.
    expect(lb.choose('review', three)?.instanceId).toBe('r1');
    expect(lb.choose('review', [])).toBeUndefined();
  });

  it('starts from the beginning of the list when the tried instance has left it', () => {
    const lb = new RoundRobin();
    const gone = instance('review', 'gone');
    expect(lb.next(three, gone, new Set(['gone']))?.instanceId).toBe('r0');
  });

  it('never retries on the tried instance with two instances, whatever the position', () => {
    const two = [instance('a', 'x'), instance('a', 'y')];
    for (let start = 0; start < 10; start++) {
      const lb = new RoundRobin({ random: () => start / 1000 });
      const first = lb.choose('a', two);
      if (first === undefined) throw new Error('no first choice');
      const retry = lb.next(two, first, new Set([first.instanceId]));
      expect(retry?.instanceId).not.toBe(first.instanceId);
    }
  });
});
