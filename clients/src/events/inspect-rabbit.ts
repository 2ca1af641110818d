// The RabbitMQ binder's inspector, over AMQP alone (the management plugin is not assumed): passive declares tell
// whether a destination's exchange and a group's queues exist and how many messages wait in them; a tail is a
// temporary queue of its own bound to the exchange, since a consumed message is gone from RabbitMQ.
import type { ConfirmChannel, ConsumeMessage, GetMessage } from 'amqplib';
import { EventsError } from './errors.ts';
import { ALL_KEYS, deadLetterQueueName, groupQueueName, partitionRoutingKey } from './naming.ts';
import {
  partitionHeaderOf,
  resolveTail,
  TailFeed,
  type EventInspector,
  type GroupDescription,
  type GroupPartition,
  type InspectHints,
  type ResolvedTail,
  type TailedMessage,
  type TailOptions,
  type TopicDescription,
  type TopicSummary,
} from './inspect.ts';

/** What the inspector needs of the binder: a short-lived channel on its connection. */
export interface RabbitChannels {
  withChannel<R>(fn: (ch: ConfirmChannel) => Promise<R>): Promise<R>;
}

/** A group's queue as a passive declare sees it. */
interface QueueState {
  readonly partition: number | undefined;
  readonly queue: string;
  readonly messages: number;
  readonly consumers: number;
}

/** Partition queues probed past the last one found would be absurd beyond this. */
const MAX_PARTITIONS = 1024;

const UNLISTED =
  'RabbitMQ cannot list exchanges and queues over AMQP (its management plugin could; it is not assumed): these are the destinations and groups named (the landscape’s, --destination, --group) that exist';

const LIMITS = {
  topics: UNLISTED,
  describe: `${UNLISTED}; lag counts the messages ready in a queue, not those delivered and not yet acknowledged`,
  tail: 'RabbitMQ keeps no consumed message: this shows what is published from now on (through a temporary queue of its own), after what still waits for --group (peeked and put back)',
} as const;

function isNotFound(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 404;
}

/** The partition a routing key names (`<destination>-<n>`); an unpartitioned send (the destination's name) is 0. */
function partitionOfKey(destination: string, routingKey: string): number | undefined {
  if (routingKey === destination) return 0;
  const match = /^(.*)-(\d+)$/.exec(routingKey);
  return match !== null && match[1] === destination ? Number(match[2]) : undefined;
}

/** Header values as text where AMQP carried bytes, so a tail prints them readably. */
function readableHeaders(msg: ConsumeMessage | GetMessage): Record<string, unknown> {
  const raw: unknown = msg.properties.headers;
  if (typeof raw !== 'object' || raw === null) return {};
  return Object.fromEntries(
    Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('utf8') : v]),
  );
}

function tailed(destination: string, msg: ConsumeMessage | GetMessage): TailedMessage {
  const headers = readableHeaders(msg);
  const seconds: unknown = msg.properties.timestamp;
  return {
    partition: partitionHeaderOf(headers) ?? partitionOfKey(destination, msg.fields.routingKey),
    offset: undefined,
    timestamp: typeof seconds === 'number' ? new Date(seconds * 1000).toISOString() : undefined,
    headers,
    payload: msg.content.toString('utf8'),
  };
}

class RabbitInspector implements EventInspector {
  readonly limits = LIMITS;
  readonly #channels: RabbitChannels;

  constructor(channels: RabbitChannels) {
    this.#channels = channels;
  }

  /** Runs a passive declare; undefined when the broker says the name does not exist. */
  async #probe<R>(check: (ch: ConfirmChannel) => Promise<R>): Promise<R | undefined> {
    try {
      return await this.#channels.withChannel(check);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async #exchangeExists(name: string): Promise<boolean> {
    return (await this.#probe((ch) => ch.checkExchange(name))) !== undefined;
  }

  async #queue(queue: string, partition: number | undefined): Promise<QueueState | undefined> {
    const ok = await this.#probe((ch) => ch.checkQueue(queue));
    return ok === undefined ? undefined : { partition, queue, messages: ok.messageCount, consumers: ok.consumerCount };
  }

  /** A group's queue for the whole destination and its partition queues `-0`, `-1`, … up to the first missing. */
  async #groupQueues(destination: string, group: string): Promise<QueueState[]> {
    const found: QueueState[] = [];
    const whole = await this.#queue(groupQueueName(destination, group), undefined);
    if (whole !== undefined) found.push(whole);
    for (let i = 0; i < MAX_PARTITIONS; i++) {
      const part = await this.#queue(groupQueueName(destination, group, i), i);
      if (part === undefined) break;
      found.push(part);
    }
    return found;
  }

  async #groups(destination: string, hints: InspectHints): Promise<GroupDescription[]> {
    const described: GroupDescription[] = [];
    for (const group of new Set(hints.groups ?? [])) {
      const queues = await this.#groupQueues(destination, group);
      if (queues.length === 0) continue;
      const dlq = await this.#queue(deadLetterQueueName(destination, group), undefined);
      const partitions: GroupPartition[] = queues.map((q) => ({
        partition: q.partition,
        queue: q.queue,
        lag: q.messages,
        consumers: q.consumers,
      }));
      described.push({ group, partitions, deadLetters: dlq?.messages });
    }
    return described;
  }

  async topics(hints: InspectHints = {}): Promise<TopicSummary[]> {
    const topics: TopicSummary[] = [];
    for (const name of [...new Set(hints.destinations ?? [])].sort()) {
      if (!(await this.#exchangeExists(name))) continue;
      topics.push({ name, partitions: partitionCount(await this.#groups(name, hints)) });
    }
    return topics;
  }

  async describe(destination: string, hints: InspectHints = {}): Promise<TopicDescription> {
    if (!(await this.#exchangeExists(destination))) {
      throw new EventsError('not_found', `no destination ${destination} (topic exchange) on the broker`);
    }
    const groups = await this.#groups(destination, hints);
    const count = partitionCount(groups) ?? 0;
    return { name: destination, partitions: Array.from({ length: count }, (_, partition) => ({ partition })), groups };
  }

  tail(destination: string, options: TailOptions = {}): AsyncIterable<TailedMessage> {
    const t = resolveTail(destination, options);
    if (t.fromBeginning) {
      throw new EventsError(
        'invalid_options',
        'RabbitMQ keeps no consumed message, so a tail cannot start from the beginning: tail shows new messages, and --group also those still waiting for a group',
      );
    }
    const feed = new TailFeed<TailedMessage>({ idleMs: t.timeoutMs, signal: t.signal });
    this.#run(t, feed).catch((err: unknown) => feed.fail(err));
    return feed;
  }

  /** Taps the exchange, then (with a group) peeks what waits in its queues, first in the feed, then the tap's. */
  async #run(t: ResolvedTail, feed: TailFeed<TailedMessage>): Promise<void> {
    if (!(await this.#exchangeExists(t.destination))) {
      throw new EventsError('not_found', `no destination ${t.destination} (topic exchange) on the broker`);
    }
    let held: TailedMessage[] | undefined = t.group === undefined ? undefined : [];
    const tap = this.#tap(t, feed, (message) => (held === undefined ? feed.push(message) : held.push(message)));
    try {
      await tap.ready;
      if (t.group !== undefined) for (const message of await this.#waiting(t, t.group)) feed.push(message);
    } catch (err) {
      // Ending the feed closes the tap, whose own outcome is awaited below.
      feed.fail(err);
    } finally {
      for (const message of held ?? []) feed.push(message);
      held = undefined;
    }
    feed.reading();
    await tap.done;
  }

  /**
   * A server-named, exclusive, auto-deleted queue bound to the destination (with one partition's routing key, and
   * for partition 0 the unpartitioned one too), consumed without acknowledgements until the tail ends.
   */
  #tap(
    t: ResolvedTail,
    feed: TailFeed<TailedMessage>,
    deliver: (message: TailedMessage) => void,
  ): { ready: Promise<void>; done: Promise<void> } {
    let ready!: () => void;
    const readyPromise = new Promise<void>((resolve) => (ready = resolve));
    const ended = new Promise<void>((resolve) => feed.onEnd(resolve));
    const done = this.#channels.withChannel(async (ch) => {
      // The binder closing (or the broker going away) closes the channel: the tail ends with it.
      ch.once('close', () => feed.fail(new EventsError('broker_unavailable', 'lost the broker during the tail')));
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
      const keys =
        t.partition === undefined
          ? [ALL_KEYS]
          : [partitionRoutingKey(t.destination, t.partition), ...(t.partition === 0 ? [t.destination] : [])];
      for (const key of keys) await ch.bindQueue(queue, t.destination, key);
      await ch.consume(
        queue,
        (msg) => {
          if (msg !== null) deliver(tailed(t.destination, msg));
        },
        { noAck: true },
      );
      ready();
      await ended;
    });
    return { ready: Promise.race([readyPromise, done]), done };
  }

  /** The messages waiting in a group's queues, fetched unacknowledged and put back when the channel closes. */
  async #waiting(t: ResolvedTail, group: string): Promise<TailedMessage[]> {
    const all = await this.#groupQueues(t.destination, group);
    if (all.length === 0) throw new EventsError('not_found', `no queue of group ${group} on ${t.destination}`);
    const queues = all.filter((q) => t.partition === undefined || (q.partition ?? 0) === t.partition);
    return await this.#channels.withChannel(async (ch) => {
      const out: TailedMessage[] = [];
      for (const q of queues) {
        for (let n = 0; n < q.messages; n++) {
          const msg = await ch.get(q.queue, { noAck: false });
          if (msg === false) break;
          out.push(tailed(t.destination, msg));
        }
      }
      return out;
    });
  }
}

/** The partitions a destination shows through its groups: the most partition queues of one, 1 if only whole ones. */
function partitionCount(groups: readonly GroupDescription[]): number | undefined {
  const all = groups.flatMap((g) => g.partitions);
  if (all.length === 0) return undefined;
  return Math.max(...all.map((p) => (p.partition ?? 0) + 1));
}

/** The inspector of a RabbitMQ binder, using its connection. */
export function createRabbitInspector(channels: RabbitChannels): EventInspector {
  return new RabbitInspector(channels);
}
