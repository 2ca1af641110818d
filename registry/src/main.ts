// The registry as a Trellis component: settings → store → registry → routes → listen, and the reverse on stop.
// `trellis registry` runs it alone, `trellis up` with the rest of the landscape.
import { createService, defineComponent, StartupError } from '@trellis/clients';
import type { Logger, Running } from '@trellis/clients';
import { createApp } from './app.ts';
import { registryConfig, registrySettings } from './config.ts';
import type { RegistryConfig } from './config.ts';
import { Registry } from './registry/registry.ts';
import { startSweeper } from './registry/sweeper.ts';
import { persistRegistry } from './store/persistence.ts';
import { openSqliteStore } from './store/sqlite-store.ts';
import type { RegistryStore } from './store/store.ts';

export const registryComponent = defineComponent({
  name: 'registry',
  summary: 'Eureka-compatible service registry: API on /eureka, watch stream, SQLite persistence',
  settings: registrySettings(),
  async start(settings, context): Promise<Running> {
    return startRegistry(registryConfig(settings), context.logger);
  },
});

/** Starts a registry from a ready configuration; what the component's start() does after reading settings. */
export async function startRegistry(config: Readonly<RegistryConfig>, logger: Logger): Promise<Running> {
  const log = logger.child({ component: 'registry' });
  const store = openStore(config.databaseFile);
  const registry = new Registry({
    selfPreservation: config.selfPreservation,
    onListenerError: (err) => log.error({ err }, 'a registry subscriber failed'),
  });
  const persistence = persistRegistry(
    { registry, store, log },
    config.restoreGraceMs === undefined ? {} : { graceMs: config.restoreGraceMs },
  );
  const service = createService({
    name: 'registry',
    description: 'Eureka-compatible service registry',
    logger: log,
  });
  // Hooks run in reverse order: the sweeper stops first, the store closes last, after the final renewals.
  service.onShutdown('registry store', () => {
    persistence.stop();
    store.close();
  });
  const sweeper = startSweeper({ registry, intervalMs: config.evictionIntervalMs, log });
  service.onShutdown('eviction sweep', () => sweeper.stop());

  service.app.route(
    '/',
    createApp({
      registry,
      stopping: service.stopping,
      writeAuth: config.writeAuth,
      readAuth: config.readAuth,
    }),
  );
  service.health.register('registry', () => {
    const status = registry.status();
    return {
      status: 'UP',
      details: {
        instances: status.instances,
        applications: status.applications,
        renewsLastMinute: status.renewsLastMinute,
        renewThreshold: status.selfPreservation.threshold,
        leaseExpirationEnabled: status.leaseExpirationEnabled,
        selfPreservation: {
          enabled: status.selfPreservation.enabled,
          engaged: status.selfPreservation.engaged,
          explanation: status.selfPreservation.explanation,
        },
      },
    };
  });

  try {
    await service.listen({
      port: config.port,
      ...(config.host === undefined ? {} : { host: config.host }),
      setting: '--port (REGISTRY_PORT)',
    });
  } catch (err) {
    await service.stop();
    throw err;
  }
  const notes = [
    config.writeAuth === undefined
      ? 'registry writes are open to anyone who can reach it (set --write-auth to protect them)'
      : `registry writes need ${config.writeAuth.scheme} credentials`,
  ];
  return { name: 'registry', endpoints: service.endpoints, notes, stop: () => service.stop() };
}

function openStore(file: string): RegistryStore {
  try {
    return openSqliteStore(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new StartupError(`registry: cannot open ${file} (${reason}); check --data-dir (TRELLIS_DATA_DIR)`);
  }
}
