// The Kafka binder's metrics and trace propagation (see observability-suite.ts) against a real one-node broker.
import { afterAll, beforeAll } from 'vitest';
import { startKafkaBroker, type KafkaBroker } from '@trellis/kit/kafka-broker';
import { createKafkaBinder } from '../../src/events/index.ts';
import { observabilitySuite } from './observability-suite.ts';

let broker: KafkaBroker;
beforeAll(async () => {
  broker = await startKafkaBroker();
}, 120_000);
afterAll(async () => {
  await broker?.stop();
});

observabilitySuite(
  'kafka',
  (observability) =>
    createKafkaBinder({
      brokers: broker.url,
      publishTimeoutMs: 10_000,
      ...(observability === undefined ? {} : { observability }),
    }),
  { timeoutMs: 60_000 },
);
