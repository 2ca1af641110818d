// The RabbitMQ binder's metrics and trace propagation (see observability-suite.ts) against the real broker.
import { createRabbitBinder } from '../../src/events/index.ts';
import { BROKER, cleanupBroker } from './helpers.ts';
import { observabilitySuite } from './observability-suite.ts';

observabilitySuite(
  'rabbit',
  (observability) =>
    createRabbitBinder({
      url: BROKER,
      publishTimeoutMs: 10_000,
      ...(observability === undefined ? {} : { observability }),
    }),
  { cleanup: cleanupBroker },
);
