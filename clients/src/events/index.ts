// @trellis/clients/events: event streams the Spring Cloud Stream way, on Kafka, RabbitMQ or an embedded SQLite binder.
// Producers and consumer groups on a destination, partitions chosen with Java's String.hashCode, retries with
// backoff, dead-letter queues you can list and replay; on Kafka and RabbitMQ with Spring's exact names.
export { createEventBinder } from './binder.ts';
export type { EventBinderOptions } from './binder.ts';
export { createEmbeddedBinder } from './embedded.ts';
export type { EmbeddedBinderOptions } from './embedded.ts';
export { EventsError } from './errors.ts';
export type { EventsErrorCode } from './errors.ts';
export { registerBinderHealth } from './health.ts';
export type {
  EventInspector,
  GroupDescription,
  GroupPartition,
  InspectHints,
  InspectQuestion,
  PartitionDescription,
  TailedMessage,
  TailOptions,
  TopicDescription,
  TopicSummary,
} from './inspect.ts';
export {
  ALL_KEYS,
  anonymousQueueName,
  deadLetterQueueName,
  DLX,
  EXCEPTION_HEADERS,
  groupQueueArguments,
  groupQueueName,
  PARTITION_HEADER,
  partitionRoutingKey,
} from './naming.ts';
export { javaHashCode, javaStringHashCode, selectPartition } from './partition.ts';
export type { PartitionKey } from './partition.ts';
export { SPRING_RETRY } from './processing.ts';
export { createKafkaBinder, parseKafkaUrl } from './kafka.ts';
export type { KafkaBinderOptions } from './kafka.ts';
export { deadLetterTopic, DLQ_HEADERS as KAFKA_DLQ_HEADERS } from './kafka-wire.ts';
export { createRabbitBinder } from './rabbit.ts';
export type { RabbitBinderOptions } from './rabbit.ts';
export type {
  BackoffPolicy,
  BinderKind,
  Consumer,
  ConsumerOptions,
  DeadLetter,
  DeadLetterQueue,
  EventBinder,
  EventHandler,
  EventMessage,
  HeaderValue,
  Producer,
  ProducerOptions,
  SendOptions,
} from './types.ts';
