// The example services' event binder: RabbitMQ or the embedded one, with its health.
import { createEventBinder, registerBinderHealth, type EventBinder } from '@trellis/clients/events';
import { StartupError } from '@trellis/kit';
import type { ExampleContext } from './bootstrap.ts';
import type { ExampleSettings } from './settings.ts';

/**
 * The service's event binder: RabbitMQ with `--broker-url` (TRELLIS_BROKER_URL), else the embedded SQLite binder in
 * the data dir, which every service of `trellis up` shares. Its health joins the readiness group.
 */
export async function openEventBinder<S extends ExampleSettings>(ctx: ExampleContext<S>): Promise<EventBinder> {
  let binder: EventBinder;
  try {
    binder = await createEventBinder({
      brokerUrl: ctx.settings.brokerUrl,
      dataDir: ctx.settings.dataDir,
      logger: ctx.log,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new StartupError(
      `${ctx.name}: cannot open the event binder (${reason}); check --broker-url (TRELLIS_BROKER_URL)`,
    );
  }
  registerBinderHealth(ctx.service.health, binder);
  return binder;
}
