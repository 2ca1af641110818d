// How the three core services start: they differ only in their table, routes and events, so this is the one way.
import { join } from 'node:path';
import type { Hono } from 'hono';
import type { KitEnv, Logger, Running } from '@trellis/kit';
import { startExample } from './bootstrap.ts';
import { openEventBinder } from './binder.ts';
import { openExampleDatabase, type ExampleDatabase } from './database.ts';
import { DESTINATIONS, readEvent, type CoreService, type Event } from './events.ts';
import type { CoreServiceSettings } from './settings.ts';

export interface CoreServiceOptions<Store> {
  readonly name: CoreService;
  readonly settings: CoreServiceSettings;
  readonly logger: Logger;
  readonly migrations: URL;
  readonly createStore: (db: ExampleDatabase) => Store;
  readonly addRoutes: (
    app: Hono<KitEnv>,
    deps: { store: Store; serviceAddress: () => string; stopping: AbortSignal },
  ) => void;
  readonly applyEvent: (store: Store, event: Event<Record<string, unknown>>) => void;
}

/**
 * Starts a core service: its SQLite file under the data dir, its routes, and a consumer of its destination in its
 * group, reading the partition of this instance.
 */
export function startCoreService<Store>(o: CoreServiceOptions<Store>): Promise<Running> {
  return startExample(o.name, o.settings, o.logger, async (ctx) => {
    const db = openExampleDatabase({
      file: join(o.settings.dataDir, 'examples', `${o.name}.sqlite`),
      migrations: o.migrations,
      name: o.name,
    });
    ctx.service.onShutdown('database', () => {
      db.close();
    });
    const store = o.createStore(db);
    o.addRoutes(ctx.service.app, { store, serviceAddress: ctx.serviceAddress, stopping: ctx.service.stopping });
    const binder = await openEventBinder(ctx);
    // Closed after the drain (hooks run in reverse): messages in hand finish before the database closes.
    ctx.service.onShutdown('events', () => binder.close());
    const { destination, group } = DESTINATIONS[o.name];
    const { instanceIndex, instanceCount } = o.settings;
    return {
      afterRegister: async () => {
        await binder.consume<unknown>({
          destination,
          group,
          ...(instanceCount > 1 ? { partitioned: { instanceIndex, instanceCount } } : {}),
          handler: (message) => {
            const event = readEvent(message.payload);
            o.applyEvent(store, event);
            ctx.log.info({ destination, eventType: event.eventType, key: event.key }, 'event applied');
          },
        });
      },
    };
  });
}
