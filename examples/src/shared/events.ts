// The landscape's events, as in the Spring sample.
// Event<K, T> with eventType CREATE or DELETE, the product id as key (and partition key), the data, and when it was
// made. Each core service reads its destination in its own group.
import { ExampleError } from './errors.ts';

export type EventType = 'CREATE' | 'DELETE';

export interface Event<T> {
  readonly eventType: EventType;
  /** The product id: the partition key, so every event of one product reaches the same instance in order. */
  readonly key: number;
  readonly data: T | null;
  readonly eventCreatedAt: string;
}

/** Destination and consumer group of each core service (Spring Cloud Stream names). */
export const DESTINATIONS = {
  product: { destination: 'products', group: 'productsGroup' },
  recommendation: { destination: 'recommendations', group: 'recommendationsGroup' },
  review: { destination: 'reviews', group: 'reviewsGroup' },
} as const;

export type CoreService = keyof typeof DESTINATIONS;

/**
 * Makes an event stamped now.
 *
 * @example
 * createEvent('DELETE', 1, null); // { eventType: 'DELETE', key: 1, data: null, eventCreatedAt: '…' }
 */
export function createEvent<T>(eventType: EventType, key: number, data: T | null, now = new Date()): Event<T> {
  return { eventType, key, data, eventCreatedAt: now.toISOString() };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks an event read from the binder; a malformed one throws, so after the binder's retries it lands in the
 * dead-letter queue instead of corrupting the store.
 */
export function readEvent(payload: unknown): Event<Record<string, unknown>> {
  if (!isRecord(payload)) throw new ExampleError('bad_request', 'an event must be a JSON object');
  const { eventType, key, data, eventCreatedAt } = payload;
  if (eventType !== 'CREATE' && eventType !== 'DELETE') {
    throw new ExampleError('bad_request', `unknown eventType ${JSON.stringify(eventType)}; expected CREATE or DELETE`);
  }
  if (typeof key !== 'number' || !Number.isSafeInteger(key) || key < 1) {
    throw new ExampleError('bad_request', 'an event key must be a product id (a whole number from 1)');
  }
  if (eventType === 'CREATE' && !isRecord(data)) throw new ExampleError('bad_request', 'a CREATE event needs data');
  return {
    eventType,
    key,
    data: isRecord(data) ? data : null,
    eventCreatedAt: typeof eventCreatedAt === 'string' ? eventCreatedAt : new Date(0).toISOString(),
  };
}

/** A whole number field of an event's data, or an error naming it. */
export function intField(data: Record<string, unknown>, name: string, min = 0): number {
  const v = data[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new ExampleError('invalid_input', `${name} must be a whole number from ${min}`);
  }
  return v;
}

/** A text field of an event's data (at most `max` characters), or an error naming it. */
export function textField(data: Record<string, unknown>, name: string, max = 500): string {
  const v = data[name];
  if (typeof v !== 'string' || v.trim() === '' || v.length > max) {
    throw new ExampleError('invalid_input', `${name} must be a text of 1 to ${max} characters`);
  }
  return v;
}
