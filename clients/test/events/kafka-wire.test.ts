// Spring's Kafka record headers, byte for byte: what a Spring consumer reads back typed, and the dead-letter encodings.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  deadLetterHeaders,
  encodeHeaders,
  HeaderDecoder,
  originOf,
  readDeadLetterHeader,
} from '../../src/events/kafka-wire.ts';

const text = (wire: Map<Buffer, Buffer>): Record<string, string> =>
  Object.fromEntries([...wire].map(([k, v]) => [k.toString(), v.toString()]));

describe('encodeHeaders', () => {
  it("writes Strings raw, other values as JSON, and names each one's Java class in spring_json_header_types", () => {
    const wire = text(
      encodeHeaders({ contentType: 'application/json', scst_partition: 1, big: 2 ** 40, ok: true, r: 0.5 }),
    );
    expect(wire).toMatchObject({
      contentType: 'application/json',
      scst_partition: '1',
      big: '1099511627776',
      ok: 'true',
    });
    expect(JSON.parse(wire.spring_json_header_types ?? '')).toEqual({
      contentType: 'java.lang.String',
      scst_partition: 'java.lang.Integer',
      big: 'java.lang.Long',
      ok: 'java.lang.Boolean',
      r: 'java.lang.Double',
    });
  });
});

describe('HeaderDecoder', () => {
  it('reads back what encodeHeaders wrote, typed', () => {
    const decoded = new HeaderDecoder().decode(encodeHeaders({ a: 'x', n: 7, b: false }));
    expect(decoded).toEqual({ a: 'x', n: 7, b: false });
  });

  it("reads untyped headers as text and an old spring-kafka's JSON-quoted String as the String", () => {
    const h = (k: string, v: string): [Buffer, Buffer] => [Buffer.from(k), Buffer.from(v)];
    const decoded = new HeaderDecoder().decode([
      h('plain', 'abc'),
      h('quoted', '"abc"'),
      h('spring_json_header_types', '{"quoted":"java.lang.String"}'),
    ]);
    expect(decoded).toEqual({ plain: 'abc', quoted: 'abc' });
  });
});

describe('deadLetterHeaders', () => {
  it("keeps the original headers, adds spring-kafka's binary x-original ones, replaces an earlier failure's", () => {
    const original: [Buffer, Buffer][] = [
      [Buffer.from('who'), Buffer.from('me')],
      [Buffer.from('x-exception-message'), Buffer.from('an older failure')],
    ];
    const wire = deadLetterHeaders(
      original,
      { topic: 'products', partition: 2, offset: 41n, timestamp: 1_700_000_000_000n },
      { errorClass: 'TypeError', reason: 'bad', stacktrace: 'TypeError: bad' },
    );
    const byName = new Map([...wire].map(([k, v]) => [k.toString(), v]));
    expect(byName.get('who')?.toString()).toBe('me');
    expect(byName.get('x-original-partition')).toEqual(Buffer.from([0, 0, 0, 2]));
    expect(byName.get('x-original-offset')).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 41]));
    expect(byName.get('x-original-timestamp')?.readBigInt64BE()).toBe(1_700_000_000_000n);
    expect(byName.get('x-original-timestamp-type')?.toString()).toBe('CreateTime');
    expect(byName.get('x-exception-message')?.toString()).toBe('bad');
    expect([...byName.keys()].filter((k) => k === 'x-exception-message')).toHaveLength(1);
    expect(originOf(byName)).toEqual({ topic: 'products', partition: 2, offset: 41n });
    expect(readDeadLetterHeader('x-original-partition', byName.get('x-original-partition') ?? Buffer.alloc(0))).toBe(2);
  });
});

/** A record as the interop test recorded it from a real Spring Cloud Stream app (fixtures/spring-kafka.json). */
interface RecordedRecord {
  readonly partition: number;
  readonly headers: Record<string, { utf8?: string; base64?: string }>;
}
const spring = JSON.parse(readFileSync(new URL('./fixtures/spring-kafka.json', import.meta.url), 'utf8')) as {
  produced: RecordedRecord;
  deadLetteredBySpring: RecordedRecord;
};
const wireOf = (r: RecordedRecord): [Buffer, Buffer][] =>
  Object.entries(r.headers).map(([k, v]) => [
    Buffer.from(k),
    v.base64 === undefined ? Buffer.from(v.utf8 ?? '') : Buffer.from(v.base64, 'base64'),
  ]);

describe("Spring's recorded records", () => {
  it("read typed: a Spring producer's Integer headers as numbers, Strings as text", () => {
    expect(new HeaderDecoder().decode(wireOf(spring.produced))).toEqual({
      partitionKey: 'product-0',
      origin: 'spring',
      scst_partition: 0,
      contentType: 'application/json',
      seq: 0,
    });
  });

  it("get the very header names and encodings from our dead-lettering that Spring's own gave", () => {
    const letter = spring.deadLetteredBySpring;
    const original = wireOf(letter).filter(([k]) => !k.toString().startsWith('x-'));
    const origin = originOf(new Map(wireOf(letter).map(([k, v]) => [k.toString(), v])));
    const timestamp = Buffer.from(letter.headers['x-original-timestamp']?.base64 ?? '', 'base64').readBigInt64BE();
    const ours = deadLetterHeaders(
      original,
      { topic: origin?.topic ?? '', partition: origin?.partition ?? -1, offset: origin?.offset ?? -1n, timestamp },
      { errorClass: 'Error', reason: 'refused', stacktrace: 'Error: refused' },
    );
    const names = (wire: Iterable<[Buffer, Buffer]>): string[] => [...wire].map(([k]) => k.toString()).sort();
    expect(names(ours)).toEqual(names(wireOf(letter)));
    const byName = (wire: Iterable<[Buffer, Buffer]>): Map<string, string> =>
      new Map([...wire].map(([k, v]) => [k.toString(), v.toString('base64')]));
    for (const name of ['x-original-topic', 'x-original-partition', 'x-original-offset', 'x-original-timestamp']) {
      expect(byName(ours).get(name)).toBe(byName(wireOf(letter)).get(name));
    }
  });
});
