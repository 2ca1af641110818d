import { describe, expect, it } from 'vitest';
import {
  deadLetterQueueName,
  groupQueueName,
  javaHashCode,
  javaStringHashCode,
  partitionRoutingKey,
  selectPartition,
} from '../../src/events/index.ts';

describe("Java's String.hashCode", () => {
  it('matches values computed by hand', () => {
    expect(javaStringHashCode('')).toBe(0);
    expect(javaStringHashCode('a')).toBe(97);
    expect(javaStringHashCode('ab')).toBe(97 * 31 + 98); // 3105
    expect(javaStringHashCode('hello')).toBe(99162322);
    expect(javaStringHashCode('Aa')).toBe(javaStringHashCode('BB')); // Java's classic collision, 2112
    expect(javaStringHashCode('BB')).toBe(2112);
  });

  it('wraps around as a 32-bit int', () => {
    expect(javaStringHashCode('hello world')).toBe(1794106052);
    expect(javaStringHashCode('polygenelubricants')).toBe(-2147483648); // Integer.MIN_VALUE
  });

  it('hashes UTF-16 code units, so a character outside the BMP counts twice', () => {
    // U+1F600 is the surrogate pair D83D DE00: 0xD83D * 31 + 0xDE00 = 55357 * 31 + 56832
    expect(javaStringHashCode('\u{1F600}')).toBe(1772899);
    expect(javaStringHashCode('é')).toBe(233);
  });

  it("uses Integer.hashCode (the value) for integer keys and refuses what Java's int cannot hold", () => {
    expect(javaHashCode(42)).toBe(42);
    expect(javaHashCode(-7)).toBe(-7);
    expect(() => javaHashCode(1.5)).toThrow(/32-bit integer/);
    expect(() => javaHashCode(2 ** 31)).toThrow(/32-bit integer/);
  });
});

describe("Spring's partition selection", () => {
  it('takes abs(hash) % count', () => {
    expect(selectPartition('hello', 4)).toBe(99162322 % 4); // 2
    expect(selectPartition('hello', 4)).toBe(2);
    expect(selectPartition(-7, 3)).toBe(1);
    expect(selectPartition('', 5)).toBe(0);
  });

  it('maps Integer.MIN_VALUE to partition 0 (Math.abs would overflow in Java)', () => {
    expect(selectPartition('polygenelubricants', 3)).toBe(0);
    expect(selectPartition(-2147483648, 7)).toBe(0);
  });

  it('refuses a partition count below 1', () => {
    expect(() => selectPartition('a', 0)).toThrow(/partitionCount/);
  });
});

describe("Spring Cloud Stream's Rabbit names", () => {
  it('names group, partition and dead-letter queues', () => {
    expect(groupQueueName('products', 'productsGroup')).toBe('products.productsGroup');
    expect(groupQueueName('products', 'productsGroup', 1)).toBe('products.productsGroup-1');
    expect(partitionRoutingKey('products', 1)).toBe('products-1');
    expect(deadLetterQueueName('products', 'productsGroup')).toBe('products.productsGroup.dlq');
  });
});
