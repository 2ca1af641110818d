// createEventBinder: RabbitMQ when a broker URL is given, else the embedded SQLite binder.
import type { Logger } from '@trellis/kit';
import { createEmbeddedBinder } from './embedded.ts';
import { createRabbitBinder } from './rabbit.ts';
import type { EventBinder } from './types.ts';

export interface EventBinderOptions {
  /** `amqp://…`: use RabbitMQ. Without it the embedded SQLite binder under `dataDir` is used. */
  readonly brokerUrl?: string | undefined;
  readonly dataDir: string;
  readonly logger?: Logger;
  /** How long a send waits for an absent broker before failing. Default 30 s. */
  readonly publishTimeoutMs?: number;
}

/**
 * The binder a service should use: RabbitMQ when a broker URL is configured, the embedded SQLite binder otherwise
 * (as `npm start` does on one machine).
 *
 * @example
 * const binder = await createEventBinder({ brokerUrl: settings.brokerUrl, dataDir: settings.dataDir, logger });
 * registerBinderHealth(service.health, binder);
 * service.onShutdown(() => binder.close());
 */
export async function createEventBinder(options: EventBinderOptions): Promise<EventBinder> {
  if (options.brokerUrl !== undefined && options.brokerUrl !== '') {
    return await createRabbitBinder({
      url: options.brokerUrl,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.publishTimeoutMs === undefined ? {} : { publishTimeoutMs: options.publishTimeoutMs }),
    });
  }
  return createEmbeddedBinder({
    dataDir: options.dataDir,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
