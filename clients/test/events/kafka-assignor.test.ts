// The group assignor: Kafka's range for plain members, Spring's fixed partitions for partitioned instances.
import { describe, expect, it } from 'vitest';
import { assignPartitions, decodeSlot, encodeSlot, type Member } from '../../src/events/kafka-assignor.ts';

const plain = (memberId: string, topics = ['t']): Member => ({ memberId, topics, slot: undefined });
const slotted = (memberId: string, instanceIndex: number, instanceCount: number): Member => ({
  memberId,
  topics: ['t'],
  slot: { instanceIndex, instanceCount },
});
const of = (result: Map<string, Map<string, number[]>>, member: string, topic = 't'): number[] | undefined =>
  result.get(member)?.get(topic);

describe('assignPartitions', () => {
  it("splits partitions into ranges by member id, the first ones one longer, as Kafka's RangeAssignor", () => {
    const result = assignPartitions([plain('b'), plain('a'), plain('c')], new Map([['t', 7]]));
    expect([of(result, 'a'), of(result, 'b'), of(result, 'c')]).toEqual([
      [0, 1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('gives a partitioned instance the partitions whose number modulo instanceCount is its index, none else', () => {
    const result = assignPartitions([slotted('z', 0, 2), slotted('a', 1, 2)], new Map([['t', 4]]));
    expect(of(result, 'z')).toEqual([0, 2]);
    expect(of(result, 'a')).toEqual([1, 3]);
    const alone = assignPartitions([slotted('z', 0, 2)], new Map([['t', 4]]));
    expect(of(alone, 'z')).toEqual([0, 2]); // partitions 1 and 3 wait for instance 1
  });

  it('assigns each topic among the members that subscribe to it, when one group reads several destinations', () => {
    const result = assignPartitions(
      [plain('a', ['t']), plain('b', ['u'])],
      new Map([
        ['t', 2],
        ['u', 1],
      ]),
    );
    expect(of(result, 'a', 't')).toEqual([0, 1]);
    expect(of(result, 'b', 'u')).toEqual([0]);
    expect(of(result, 'a', 'u')).toBeUndefined();
  });
});

describe('instance slots in subscription user data', () => {
  it("round-trips, and reads a Java member's user data as no slot", () => {
    expect(decodeSlot(encodeSlot({ instanceIndex: 1, instanceCount: 3 }))).toEqual({
      instanceIndex: 1,
      instanceCount: 3,
    });
    expect(decodeSlot(Buffer.from([0, 0, 0, 1]))).toBeUndefined();
    expect(decodeSlot(undefined)).toBeUndefined();
  });
});
