// The consumer-group assignor of Trellis's Kafka consumers: Kafka's `range`, except that a partitioned consumer
// (instanceIndex of instanceCount) gets exactly the partitions Spring's binder gives it without auto-rebalancing.
import type { GroupPartitionsAssignments } from '@platformatic/kafka';

/** The protocol name: `range` is the first one Spring's consumers offer, so a mixed group agrees on it. */
export const ASSIGNOR = 'range';

export interface InstanceSlot {
  readonly instanceIndex: number;
  readonly instanceCount: number;
}

/** What a member tells the group's leader in its subscription's user data. */
export function encodeSlot(slot: InstanceSlot | undefined): Buffer | undefined {
  return slot === undefined ? undefined : Buffer.from(JSON.stringify(slot));
}

export function decodeSlot(userData: Buffer | string | undefined | null): InstanceSlot | undefined {
  if (userData === undefined || userData === null || userData.length === 0) return undefined;
  try {
    const parsed = JSON.parse(userData.toString()) as Partial<InstanceSlot>;
    const { instanceIndex, instanceCount } = parsed;
    if (Number.isInteger(instanceIndex) && Number.isInteger(instanceCount) && (instanceCount ?? 0) > 0) {
      return { instanceIndex: instanceIndex as number, instanceCount: instanceCount as number };
    }
  } catch {
    // Another assignor's user data (a Java member's): the member is simply not partitioned.
  }
  return undefined;
}

/** Spring's listened partitions of a partitioned instance: those whose number modulo instanceCount is its index. */
export function ownsPartition(slot: InstanceSlot, partition: number): boolean {
  return partition % slot.instanceCount === slot.instanceIndex;
}

export interface Member {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly slot: InstanceSlot | undefined;
}

/**
 * Assigns each topic's partitions: a partitioned member gets those its slot owns (the first member by id when two
 * claim one slot); the members without a slot share the rest as Kafka's RangeAssignor would (sorted by member id,
 * contiguous ranges, the first ones one longer). A partition whose instance is absent stays unassigned, as its
 * RabbitMQ queue would wait for its consumer.
 */
export function assignPartitions(
  members: readonly Member[],
  partitionCounts: ReadonlyMap<string, number>,
): Map<string, Map<string, number[]>> {
  const result = new Map<string, Map<string, number[]>>(members.map((m) => [m.memberId, new Map()]));
  const give = (memberId: string, topic: string, partition: number): void => {
    const byTopic = result.get(memberId) as Map<string, number[]>;
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
  };
  for (const [topic, count] of partitionCounts) {
    const subscribed = members
      .filter((m) => m.topics.includes(topic))
      .sort((a, b) => a.memberId.localeCompare(b.memberId));
    const slotted = subscribed.filter((m) => m.slot !== undefined);
    const plain = subscribed.filter((m) => m.slot === undefined);
    const rest: number[] = [];
    for (let partition = 0; partition < count; partition++) {
      const owner = slotted.find((m) => ownsPartition(m.slot as InstanceSlot, partition));
      if (owner !== undefined) give(owner.memberId, topic, partition);
      else if (slotted.length === 0 || plain.length > 0) rest.push(partition);
    }
    if (plain.length === 0) continue;
    const per = Math.floor(rest.length / plain.length);
    const extra = rest.length % plain.length;
    let next = 0;
    for (const [i, member] of plain.entries()) {
      const length = per + (i < extra ? 1 : 0);
      for (const partition of rest.slice(next, next + length)) give(member.memberId, topic, partition);
      next += length;
    }
  }
  return result;
}

/** The assignor in @platformatic/kafka's shape, run by whichever Trellis member the group elects leader. */
export function partitionAssigner(
  _current: string,
  members: Map<string, { topics?: string[]; metadata?: Buffer | string }>,
  topics: Set<string>,
  metadata: { topics: Map<string, { partitionsCount: number }> },
): GroupPartitionsAssignments[] {
  const list = [...members].map(([memberId, m]) => ({
    memberId,
    topics: m.topics ?? [...topics],
    slot: decodeSlot(m.metadata),
  }));
  // The client passes the leader's own topics only; one group id may read several destinations (Spring allows it).
  const all = new Set([...topics, ...list.flatMap((m) => m.topics)]);
  const counts = new Map([...all].map((t) => [t, metadata.topics.get(t)?.partitionsCount ?? 0]));
  return [...assignPartitions(list, counts)].map(([memberId, byTopic]) => ({
    memberId,
    assignments: new Map([...byTopic].map(([topic, partitions]) => [topic, { topic, partitions }])),
  }));
}
