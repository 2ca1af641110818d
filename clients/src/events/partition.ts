// Partition selection as Spring Cloud Stream does it, on Java's hashCode, so Node and Spring producers agree.
import { EventsError } from './errors.ts';

/** What a partition key function may return: Java's String and Integer keys hash the same way in Node. */
export type PartitionKey = string | number;

/**
 * Java's `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units in 32-bit two's complement, so a
 * Node producer and a Spring producer put the same key in the same partition.
 *
 * @example
 * javaStringHashCode('hello'); // 99162322
 */
export function javaStringHashCode(value: string): number {
  let hash = 0;
  // charCodeAt walks UTF-16 code units, as Java's char does (a surrogate pair counts as two).
  for (let i = 0; i < value.length; i++) hash = (Math.imul(hash, 31) + value.charCodeAt(i)) | 0;
  return hash;
}

/** Java's `hashCode()` of the boxed key: String's for strings, Integer's (the value itself) for 32-bit integers. */
export function javaHashCode(key: PartitionKey): number {
  if (typeof key === 'string') return javaStringHashCode(key);
  if (!Number.isInteger(key) || key < -2_147_483_648 || key > 2_147_483_647) {
    throw new EventsError('invalid_payload', `partition key ${key} is not a 32-bit integer (use a string instead)`);
  }
  return key;
}

/**
 * Spring Cloud Stream's partition selection: DefaultPartitionSelectorStrategy maps Integer.MIN_VALUE to 0 and takes
 * `abs(hashCode)`, then PartitionHandler takes `abs(selected % partitionCount)`.
 *
 * @example
 * selectPartition('hello', 4); // 2, as a Spring producer with partitionCount 4 would choose
 */
export function selectPartition(key: PartitionKey, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new EventsError('invalid_options', `partitionCount must be a positive integer, got ${partitionCount}`);
  }
  const hash = javaHashCode(key);
  // Math.abs(Integer.MIN_VALUE) overflows to itself in Java, hence Spring's special case.
  const selected = hash === -2_147_483_648 ? 0 : Math.abs(hash);
  return Math.abs(selected % partitionCount);
}
