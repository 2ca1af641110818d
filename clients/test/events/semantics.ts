// The semantic suite every binder must pass: groups, partitions, retries, dead letters and replay behave the same
// on Kafka, RabbitMQ and the embedded SQLite binder (each under its broker's own names).
import { afterAll, describe, expect, it } from 'vitest';
import { EXCEPTION_HEADERS, selectPartition, type EventBinder, type EventMessage } from '../../src/events/index.ts';
import { delay, uniqueName, waitFor } from './helpers.ts';

export interface BinderFixture {
  readonly binder: EventBinder;
  /** Sends bytes that bypass the producer's JSON encoding (as a foreign or broken producer would). */
  publishRaw(destination: string, routingKey: string, body: Buffer): Promise<void>;
  /**
   * Makes the destination shareable by two instances of one group before they start. Kafka shares a group by
   * partition, so it needs a partition for each instance; the queue binders need nothing.
   */
  prepareShared?(destination: string, instances: number): Promise<void>;
}

/** What a binder calls a group's dead letters and how it records where a failed message came from. */
export interface BinderNames {
  deadLetterQueue(destination: string, group: string): string;
  /** Where a dead letter failed (`DeadLetter.queue`): where a replay sends it back. */
  failedIn(destination: string, group: string): string;
  /** Headers a dead letter carries about its origin, with their values as the DeadLetter shows them. */
  originHeaders(destination: string): Record<string, unknown>;
  /** The name (`Consumer.queue`) an anonymous subscription gets. */
  anonymous(destination: string): RegExp;
}

/** Spring's RabbitMQ names, which the embedded binder uses too. */
export const RABBIT_NAMES: BinderNames = {
  deadLetterQueue: (d, g) => `${d}.${g}.dlq`,
  failedIn: (d, g) => `${d}.${g}`,
  originHeaders: (d) => ({ [EXCEPTION_HEADERS.originalExchange]: d, [EXCEPTION_HEADERS.originalRoutingKey]: d }),
  anonymous: (d) => new RegExp(`^${d}\\.anonymous\\.[A-Za-z0-9_-]{22}$`),
};

interface Event {
  readonly key: string;
  readonly n: number;
}

const fast = { initialIntervalMs: 10, multiplier: 2, maxIntervalMs: 40 };

export function binderSemantics(
  name: string,
  open: () => Promise<BinderFixture>,
  used: string[],
  names: BinderNames = RABBIT_NAMES,
): void {
  describe(`${name} binder semantics`, () => {
    const fixtures: BinderFixture[] = [];
    const fixture = async (): Promise<BinderFixture> => {
      const f = await open();
      fixtures.push(f);
      return f;
    };
    const dest = (prefix: string): string => {
      const d = uniqueName(prefix);
      used.push(d);
      return d;
    };
    afterAll(async () => {
      await Promise.all(fixtures.map((f) => f.binder.close()));
    });

    it('shares a group between two instances, each message handled once', async () => {
      const [a, b] = [await fixture(), await fixture()];
      const d = dest('share');
      await a.prepareShared?.(d, 2);
      const got: { who: string; n: number }[] = [];
      const handler = (who: string) => async (m: EventMessage<Event>) => {
        got.push({ who, n: m.payload.n });
        await delay(5); // holds the instance so the other one takes its turn
      };
      await a.binder.consume<Event>({ destination: d, group: 'g', handler: handler('a') });
      await b.binder.consume<Event>({ destination: d, group: 'g', handler: handler('b') });
      const producer = await a.binder.producer<Event>({ destination: d, requiredGroups: ['g'] });
      for (let n = 0; n < 30; n++) await producer.send({ key: 'k', n });
      await waitFor(() => got.length >= 30, 10_000, '30 messages');
      await delay(150); // a duplicate would show up now
      expect(got.map((g) => g.n).sort((x, y) => x - y)).toEqual([...Array(30).keys()]);
      expect(new Set(got.map((g) => g.who))).toEqual(new Set(['a', 'b']));
    });

    it('gives every group all messages', async () => {
      const f = await fixture();
      const d = dest('groups');
      const one: number[] = [];
      const two: number[] = [];
      await f.binder.consume<Event>({ destination: d, group: 'one', handler: (m) => void one.push(m.payload.n) });
      await f.binder.consume<Event>({ destination: d, group: 'two', handler: (m) => void two.push(m.payload.n) });
      const producer = await f.binder.producer<Event>({ destination: d });
      for (let n = 0; n < 10; n++) await producer.send({ key: 'k', n });
      await waitFor(() => one.length >= 10 && two.length >= 10, 10_000, 'both groups');
      expect(one).toEqual([...Array(10).keys()]);
      expect(two).toEqual([...Array(10).keys()]);
    });

    it('keeps messages sent before the consumer starts when the producer requires the group', async () => {
      const f = await fixture();
      const d = dest('required');
      const producer = await f.binder.producer<Event>({ destination: d, requiredGroups: ['late'] });
      await producer.send({ key: 'k', n: 1 });
      const got: number[] = [];
      await f.binder.consume<Event>({ destination: d, group: 'late', handler: (m) => void got.push(m.payload.n) });
      await waitFor(() => got.length === 1, 10_000, 'the early message');
      expect(got).toEqual([1]);
    });

    it('routes the same key to the same partition and instance, in order', async () => {
      const [a, b] = [await fixture(), await fixture()];
      const d = dest('parts');
      const got: { index: number; key: string; n: number; partition: number | undefined }[] = [];
      for (const [index, f] of [a, b].entries()) {
        await f.binder.consume<Event>({
          destination: d,
          group: 'g',
          partitioned: { instanceIndex: index, instanceCount: 2 },
          handler: (m) => void got.push({ index, key: m.payload.key, n: m.payload.n, partition: m.partition }),
        });
      }
      const producer = await a.binder.producer<Event>({
        destination: d,
        partitionKey: (e) => e.key,
        partitionCount: 2,
        requiredGroups: ['g'],
      });
      const keys = ['hello', 'world', 'a', 'b', 'product-1', 'product-2'];
      expect(new Set(keys.map((k) => selectPartition(k, 2)))).toEqual(new Set([0, 1])); // both partitions used
      for (let n = 0; n < 60; n++) await producer.send({ key: keys[n % keys.length] ?? 'x', n });
      await waitFor(() => got.length >= 60, 10_000, '60 messages');
      for (const key of keys) {
        const mine = got.filter((g) => g.key === key);
        expect(mine).toHaveLength(10);
        expect(new Set(mine.map((g) => g.index))).toEqual(new Set([selectPartition(key, 2)]));
        expect(mine.every((g) => g.partition === selectPartition(key, 2))).toBe(true);
        expect(mine.map((g) => g.n)).toEqual([...mine.map((g) => g.n)].sort((x, y) => x - y));
      }
    });

    it('retries a throwing handler maxAttempts times, then dead-letters it with the exception headers', async () => {
      const f = await fixture();
      const d = dest('retry');
      const attempts: { attempt: number; id: string; at: number }[] = [];
      await f.binder.consume<Event>({
        destination: d,
        group: 'g',
        maxAttempts: 3,
        backoff: fast,
        handler: (m) => {
          attempts.push({ attempt: m.attempt, id: m.deliveryId, at: Date.now() });
          throw new Error(`boom ${m.payload.n}`);
        },
      });
      const producer = await f.binder.producer<Event>({ destination: d });
      await producer.send({ key: 'k', n: 7 });
      const dlq = f.binder.deadLetters(d, 'g');
      await waitFor(async () => (await dlq.list()).length === 1, 10_000, 'the dead letter');
      expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(new Set(attempts.map((a) => a.id)).size).toBe(1); // same delivery id on every attempt
      const gap = (attempts[2]?.at ?? 0) - (attempts[1]?.at ?? 0);
      expect(gap).toBeGreaterThanOrEqual(18); // second backoff 10 ms × 2
      const [letter] = await dlq.list();
      expect(dlq.name).toBe(names.deadLetterQueue(d, 'g'));
      expect(letter?.reason).toBe('boom 7');
      expect(letter?.queue).toBe(names.failedIn(d, 'g'));
      expect(JSON.parse(letter?.payload ?? '')).toEqual({ key: 'k', n: 7 });
      expect(String(letter?.headers[EXCEPTION_HEADERS.stacktrace])).toContain('Error: boom 7');
      for (const [header, value] of Object.entries(names.originHeaders(d))) {
        expect(String(letter?.headers[header])).toBe(String(value));
      }
      expect(letter?.id).toBe(attempts[0]?.id);
    });

    it('dead-letters an invalid JSON payload at once, with the reason and no retry', async () => {
      const f = await fixture();
      const d = dest('badjson');
      let calls = 0;
      await f.binder.consume<Event>({
        destination: d,
        group: 'g',
        maxAttempts: 3,
        backoff: fast,
        handler: () => void calls++,
      });
      await f.publishRaw(d, d, Buffer.from('{"key": "k", n: 1'));
      const dlq = f.binder.deadLetters(d, 'g');
      await waitFor(async () => (await dlq.list()).length === 1, 10_000, 'the dead letter');
      const [letter] = await dlq.list();
      expect(calls).toBe(0);
      expect(letter?.reason).toMatch(/^invalid JSON payload: /);
      expect(letter?.payload).toBe('{"key": "k", n: 1');
    });

    it('replays dead letters to the failed group only, then they are gone from the DLQ', async () => {
      const f = await fixture();
      const d = dest('replay');
      let failing = true;
      const handled: { n: number; attempt: number }[] = [];
      const other: number[] = [];
      await f.binder.consume<Event>({
        destination: d,
        group: 'g',
        maxAttempts: 2,
        backoff: fast,
        handler: (m) => {
          if (failing) throw new Error('down');
          handled.push({ n: m.payload.n, attempt: m.attempt });
        },
      });
      await f.binder.consume<Event>({ destination: d, group: 'other', handler: (m) => void other.push(m.payload.n) });
      const producer = await f.binder.producer<Event>({ destination: d });
      for (const n of [1, 2, 3]) await producer.send({ key: 'k', n });
      const dlq = f.binder.deadLetters(d, 'g');
      await waitFor(async () => (await dlq.list()).length === 3, 10_000, 'three dead letters');
      const letters = await dlq.list();
      const shown = await dlq.show(letters[1]?.id ?? '');
      expect(JSON.parse(shown.payload)).toEqual({ key: 'k', n: 2 });
      await expect(dlq.show('no-such-id')).rejects.toMatchObject({ code: 'not_found' });
      failing = false;
      expect(await dlq.replay({ ids: [letters[0]?.id ?? ''] })).toBe(1);
      await waitFor(() => handled.length === 1, 10_000, 'the replayed message');
      expect(handled).toEqual([{ n: 1, attempt: 1 }]);
      expect(await dlq.replay()).toBe(2);
      await waitFor(() => handled.length === 3, 10_000, 'the other two');
      expect(handled.map((h) => h.n).sort()).toEqual([1, 2, 3]);
      expect(await dlq.list()).toEqual([]);
      await delay(100);
      expect(other).toEqual([1, 2, 3]); // the other group did not get the replayed copies
    });

    it('purges a DLQ and answers not_found for a group that has none', async () => {
      const f = await fixture();
      const d = dest('purge');
      await f.binder.consume<Event>({
        destination: d,
        group: 'g',
        maxAttempts: 1,
        handler: () => {
          throw new Error('no');
        },
      });
      const producer = await f.binder.producer<Event>({ destination: d });
      for (const n of [1, 2]) await producer.send({ key: 'k', n });
      const dlq = f.binder.deadLetters(d, 'g');
      await waitFor(async () => (await dlq.list()).length === 2, 10_000, 'two dead letters');
      expect(await dlq.purge()).toBe(2);
      expect(await dlq.list()).toEqual([]);
      await expect(f.binder.deadLetters(d, 'nobody').list()).rejects.toMatchObject({ code: 'not_found' });
    });

    it('drops a failed message without a DLQ when dead-lettering is off', async () => {
      const f = await fixture();
      const d = dest('nodlq');
      let calls = 0;
      await f.binder.consume<Event>({
        destination: d,
        group: 'g',
        maxAttempts: 2,
        backoff: fast,
        deadLetter: false,
        handler: () => {
          calls++;
          throw new Error('no');
        },
      });
      const producer = await f.binder.producer<Event>({ destination: d });
      await producer.send({ key: 'k', n: 1 });
      await waitFor(() => calls === 2, 10_000, 'two attempts');
      await delay(200);
      expect(calls).toBe(2);
      await expect(f.binder.deadLetters(d, 'g').list()).rejects.toMatchObject({ code: 'not_found' });
    });

    it('delivers to an anonymous subscriber only while it runs', async () => {
      const f = await fixture();
      const d = dest('anon');
      const got: number[] = [];
      const producer = await f.binder.producer<Event>({ destination: d });
      await producer.send({ key: 'k', n: 0 }); // before any subscriber: nobody keeps it
      const consumer = await f.binder.consume<Event>({ destination: d, handler: (m) => void got.push(m.payload.n) });
      expect(consumer.queue).toMatch(names.anonymous(d));
      await producer.send({ key: 'k', n: 1 });
      await waitFor(() => got.length === 1, 10_000, 'the anonymous delivery');
      expect(got).toEqual([1]);
      await consumer.close();
    });
  });
}
