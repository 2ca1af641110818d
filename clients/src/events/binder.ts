// createEventBinder: Kafka for a kafka:// broker URL, RabbitMQ for amqp://, else the embedded SQLite binder.
import { currentObservability, type Logger, type Observability } from '@trellis/kit';
import { createEmbeddedBinder } from './embedded.ts';
import { EventsError } from './errors.ts';
import { createKafkaBinder } from './kafka.ts';
import { createRabbitBinder } from './rabbit.ts';
import type { BinderKind, EventBinder } from './types.ts';

export interface EventBinderOptions {
  /**
   * `kafka://host:port[,host:port]`: use Kafka; `amqp://…`: use RabbitMQ. Without it the embedded SQLite binder under
   * `dataDir` is used.
   */
  readonly brokerUrl?: string | undefined;
  /** The binder to use whatever the URL looks like; a broker binder still needs `brokerUrl`. Default: from the URL. */
  readonly binder?: BinderKind | undefined;
  readonly dataDir: string;
  readonly logger?: Logger;
  /** How long a send waits for an absent broker before failing. Default 30 s. */
  readonly publishTimeoutMs?: number;
  /** Meters and tracer to record into. Default: the scope's (`currentObservability()`) when the binder is made. */
  readonly observability?: Observability;
}

function kindOf(options: EventBinderOptions): BinderKind {
  const url = options.brokerUrl ?? '';
  if (options.binder !== undefined) {
    if (options.binder !== 'embedded' && url === '') {
      throw new EventsError('invalid_options', `the ${options.binder} binder needs a broker URL`);
    }
    return options.binder;
  }
  if (url === '') return 'embedded';
  return /^kafka:\/\//i.test(url) ? 'kafka' : 'rabbit';
}

/**
 * The binder a service should use: Kafka or RabbitMQ when a broker URL is configured (by its scheme), the embedded
 * SQLite binder otherwise (as `npm start` does on one machine). Each broker's client loads only when chosen.
 *
 * @example
 * const binder = await createEventBinder({ brokerUrl: settings.brokerUrl, dataDir: settings.dataDir, logger });
 * registerBinderHealth(service.health, binder);
 * service.onShutdown(() => binder.close());
 */
export async function createEventBinder(options: EventBinderOptions): Promise<EventBinder> {
  const observability = options.observability ?? currentObservability();
  const common = {
    observability,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.publishTimeoutMs === undefined ? {} : { publishTimeoutMs: options.publishTimeoutMs }),
  };
  const kind = kindOf(options);
  switch (kind) {
    case 'kafka':
      return await createKafkaBinder({ brokers: options.brokerUrl ?? '', ...common });
    case 'rabbit':
      return await createRabbitBinder({ url: options.brokerUrl ?? '', ...common });
    case 'embedded':
      return createEmbeddedBinder({
        dataDir: options.dataDir,
        observability,
        ...(options.logger === undefined ? {} : { logger: options.logger }),
      });
  }
}
