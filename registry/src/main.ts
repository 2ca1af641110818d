// The registry as a Trellis component: settings → store → registry → routes → listen, and the reverse on stop.
// `trellis registry` runs it alone, `trellis up` with the rest of the landscape.
import {
  createObservability,
  createService,
  openApiPath,
  type ApiDocsOptions,
  type Service,
  defineComponent,
  StartupError,
  type Logger,
  type Running,
} from '@trellis/kit';
import { registryApiDocs } from './api-docs.ts';
import { createApp, EUREKA_PREFIXES } from './app.ts';
import { registryConfig, registrySettings } from './config.ts';
import type { RegistryConfig } from './config.ts';
import { countReplication, observeRegistry } from './metrics.ts';
import { createPeerHttp } from './peers/peer-http.ts';
import { isSelf } from './peers/peer-url.ts';
import { PeerReplicator } from './peers/replicator.ts';
import { deltaOperation } from './routes/apps.ts';
import { registerOperation } from './routes/application.ts';
import type { RegistrationLimits } from './registry/limits.ts';
import { leanHeartbeat } from './routes/instance.ts';
import { paths } from './http/params.ts';
import { replicationBodyLimit } from './routes/peer-replication.ts';
import { syncFromPeers } from './peers/sync.ts';
import { Registry } from './registry/registry.ts';
import { startSweeper } from './registry/sweeper.ts';
import { durableWrites } from './store/durable-writes.ts';
import { persistRegistry } from './store/persistence.ts';
import { openSqliteStore } from './store/sqlite-store.ts';
import type { RegistryStore } from './store/store.ts';

export const registryComponent = defineComponent({
  name: 'registry',
  summary: 'Eureka-compatible service registry: API on /eureka, watch stream, dashboard, peers, SQLite persistence',
  settings: registrySettings(),
  async start(settings, context): Promise<Running> {
    return startRegistry(registryConfig(settings, context.env), context.logger);
  },
});

/**
 * Starts a registry from a ready configuration; what the component's start() does after reading settings. `log`
 * already names the component: trellis binds `component` on the logger of each one it starts.
 */
export async function startRegistry(config: Readonly<RegistryConfig>, log: Logger): Promise<Running> {
  const built = await buildRegistry(config, log);
  await built.listen();
  return running(config, log, built);
}

/** A registry assembled (store open, routes mounted) but not yet listening: what startRegistry starts. */
export interface BuiltRegistry {
  readonly service: Service;
  /** The peers this node replicates to (itself left out). */
  readonly peers: readonly { readonly label: string }[];
  /** Copies the registry from the peers, starts replicating and listens; stops everything when that fails. */
  listen(): Promise<void>;
}

/** Assembles the registry as startRegistry runs it, without listening: tests read its routes and document. */
export async function buildRegistry(config: Readonly<RegistryConfig>, log: Logger): Promise<BuiltRegistry> {
  const startedAt = Date.now();
  const access = { write: config.writeAuth, clients: config.clients, read: config.readAuth };
  const store = openStore(config.databaseFile);
  const registry = new Registry({
    selfPreservation: config.selfPreservation,
    onListenerError: (err) => log.error({ err }, 'a registry subscriber failed'),
  });
  const durable = durableWrites();
  const persistence = persistRegistry(
    { registry, store, log, onWriteFailed: durable.failed },
    config.restoreGraceMs === undefined
      ? { limits: config.limits }
      : { graceMs: config.restoreGraceMs, limits: config.limits },
  );
  const service = createService({
    name: 'registry',
    description: 'Eureka-compatible service registry',
    logger: log,
    allowedHosts: config.allowedHosts,
    healthShowDetails: config.healthShowDetails,
    observability: await createObservability('registry', config.observability, log),
    // A peer's batch of up to 250 registrations must fit (Eureka drops a batch refused as too large).
    bodyLimit: replicationBodyLimit(config.limits),
    apiDocs: config.apiDocs
      ? { ...registryApiDocs(access), extraPaths: () => deltaPaths(access, config.limits) }
      : undefined,
  });
  const metrics = service.observability.metrics;
  if (metrics !== undefined) observeRegistry(metrics, registry);
  // Hooks run in reverse order: the sweeper stops first, the store closes last, after the final renewals.
  service.onShutdown('registry store', () => {
    persistence.stop();
    store.close();
  });
  const sweeper = startSweeper({ registry, intervalMs: config.evictionIntervalMs, log });
  service.onShutdown('eviction sweep', () => sweeper.stop());

  // The same --peers list is usually given to every node; a node does not replicate to itself.
  const peers = config.peers.filter((peer) => config.port === 0 || !isSelf(peer, config));
  const peerHttp = peers.length === 0 ? undefined : createPeerHttp({ connectTimeoutMs: 1000 });
  const replicate =
    peerHttp === undefined ? noPeers : metrics === undefined ? peerHttp.send : countReplication(metrics, peerHttp.send);
  const replicator = new PeerReplicator({ registry, peers, http: replicate, log });
  service.onShutdown('peer replication', async () => {
    replicator.stop();
    await peerHttp?.close();
  });

  service.leanRoute(
    leanHeartbeat({
      registry,
      writeAuth: config.writeAuth,
      clients: config.clients,
      prefixes: EUREKA_PREFIXES,
      limits: config.limits,
    }),
  );
  service.app.use(durable.middleware);
  service.app.route(
    '/',
    createApp({
      registry,
      stopping: service.stopping,
      writeAuth: config.writeAuth,
      clients: config.clients,
      readAuth: config.readAuth,
      limits: config.limits,
      maxWatchers: config.maxWatchers,
      maxWatchersPerAddress: config.maxWatchersPerAddress,
      dashboard: { environment: config.environment, startedAt, replicas: () => replicator.statuses() },
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
        // Eureka's health stays UP while peers are down: this node still serves its clients on its own.
        peers: Object.fromEntries(replicator.statuses().map((peer) => [peer.url, peer.state])),
      },
    };
  });

  const listen = async (): Promise<void> => {
    try {
      if (peerHttp !== undefined) {
        // Before listening, so the first client read already sees what the other nodes hold.
        await syncFromPeers({
          registry,
          peers,
          http: peerHttp.send,
          log,
          timeoutMs: config.peerSyncTimeoutMs,
          limits: config.limits,
          onOutcome: (url, outcome) => replicator.observed(url, outcome),
        });
      }
      replicator.start();
      await service.listen({
        port: config.port,
        ...(config.host === undefined ? {} : { host: config.host }),
        setting: '--port (REGISTRY_PORT)',
      });
    } catch (err) {
      await service.stop();
      throw err;
    }
  };
  return { service, peers, listen };
}

function running(config: Readonly<RegistryConfig>, log: Logger, { service, peers }: BuiltRegistry): Running {
  const open = config.writeAuth === undefined && config.clients === undefined;
  if (open) {
    // Anyone who reaches the port can register an instance that takes a service's traffic (and its callers'
    // tokens) or cancel the real ones: say so where an operator looks, not only in the start notes.
    log.warn(
      'REGISTRY WRITES ARE OPEN: anyone who can reach this registry can register, replace or cancel instances; set --write-auth (REGISTRY_WRITE_AUTH)',
    );
  }
  const notes = [
    open
      ? 'registry writes are open to anyone who can reach it (set --write-auth to protect them)'
      : config.writeAuth === undefined
        ? 'registry writes need a --clients credential'
        : `registry writes need ${config.writeAuth.scheme} credentials`,
  ];
  if (peers.length > 0) notes.push(`replicating to ${peers.map((peer) => peer.label).join(', ')}`);
  return {
    name: 'registry',
    endpoints: service.endpoints,
    notes,
    offers: { registry: service.endpoints.find((e) => e.protocol === 'http')?.url },
    stop: () => service.stop(),
  };
}

/** GET /apps/delta under each mount point, with and without the slash: the /apps/{APP} route answers it. */
function deltaPaths(
  access: Parameters<typeof deltaOperation>[0],
  limits: RegistrationLimits,
): ReturnType<NonNullable<ApiDocsOptions['extraPaths']>> {
  const get = deltaOperation(access);
  // POST /apps/delta is the /apps/{APP} registration of an application named DELTA.
  const post = registerOperation({ access, limits }, 'delta');
  return Object.fromEntries(
    EUREKA_PREFIXES.flatMap((prefix) => paths(`${prefix}/apps/delta`)).map((p) => [openApiPath(p), { get, post }]),
  ) as ReturnType<NonNullable<ApiDocsOptions['extraPaths']>>;
}

const noPeers = (): Promise<never> => Promise.reject(new Error('no peers configured'));

function openStore(file: string): RegistryStore {
  try {
    return openSqliteStore(file);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new StartupError(`registry: cannot open ${file} (${reason}); check --data-dir (TRELLIS_DATA_DIR)`);
  }
}
