// Spring Cloud Stream's RabbitMQ names (RabbitExchangeQueueProvisioner). Node and Spring services share a broker only
// if every name, binding key and queue argument here is byte for byte what Spring declares, so they live in one place.
import { randomUUID } from 'node:crypto';
import { EventsError } from './errors.ts';

/** Spring's default dead-letter exchange (`deadLetterExchange`), a durable direct exchange. */
export const DLX = 'DLX';

/** The routing key that binds an unpartitioned group queue to its topic exchange (Spring's `bindingRoutingKey`). */
export const ALL_KEYS = '#';

/** Header carrying the partition a producer chose, read by Spring consumers. */
export const PARTITION_HEADER = 'scst_partition';

/** Headers Spring's RepublishMessageRecoverer adds to a message it moves to the dead-letter queue. */
export const EXCEPTION_HEADERS = {
  message: 'x-exception-message',
  stacktrace: 'x-exception-stacktrace',
  originalExchange: 'x-original-exchange',
  originalRoutingKey: 'x-original-routingKey',
} as const;

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

/** Refuses names that would collide with Spring's separators in surprising ways or that RabbitMQ would refuse. */
export function checkName(kind: 'destination' | 'group', value: string): string {
  if (!NAME.test(value) || value.length > 200) {
    throw new EventsError(
      'invalid_options',
      `invalid ${kind} ${JSON.stringify(value)}: use letters, digits, '_', '.', ':' or '-' (at most 200 characters)`,
    );
  }
  return value;
}

/** The group queue: `<destination>.<group>`, or `<destination>.<group>-<index>` for a partitioned consumer. */
export function groupQueueName(destination: string, group: string, instanceIndex?: number): string {
  return instanceIndex === undefined ? `${destination}.${group}` : `${destination}.${group}-${instanceIndex}`;
}

/** The key a partitioned queue is bound with, and the routing key a producer uses for that partition. */
export function partitionRoutingKey(destination: string, partition: number): string {
  return `${destination}-${partition}`;
}

/** The group's dead-letter queue, shared by all partitions of the group: `<destination>.<group>.dlq`. */
export function deadLetterQueueName(destination: string, group: string): string {
  return `${destination}.${group}.dlq`;
}

/**
 * An anonymous (group-less) subscription's queue, named like Spring's Base64UrlNamingStrategy("anonymous."):
 * `<destination>.anonymous.<base64url uuid>`.
 */
export function anonymousQueueName(destination: string): string {
  const bytes = Buffer.alloc(16);
  Buffer.from(randomUUID().replaceAll('-', ''), 'hex').copy(bytes);
  return `${destination}.anonymous.${bytes.toString('base64url')}`;
}

/**
 * The arguments Spring declares a group queue with. A queue is declared with the same arguments by every service
 * that uses it, or RabbitMQ refuses the second declaration (PRECONDITION_FAILED), so these must match Spring's
 * `autoBindDlq: true` exactly.
 */
export function groupQueueArguments(queue: string, deadLetter: boolean): Record<string, string> {
  return deadLetter ? { 'x-dead-letter-exchange': DLX, 'x-dead-letter-routing-key': queue } : {};
}
