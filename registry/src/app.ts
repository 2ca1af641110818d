// The registry's HTTP surface: the Eureka REST API under both /eureka and /eureka/v2 (Spring clients use the first,
// eureka-js-client defaults to the second), the watch stream beside it. Routes are built from injected parts; no
// I/O, no listening. The dashboard sits beside it on "/" (and on /eureka/web, where the gateway serves it).
import type { KitEnv, ScopedCredentials } from '@trellis/kit';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { accessGuard } from './auth/guard.ts';
import type { Credential } from './auth/credentials.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { processSystemInfo } from './dashboard/model.ts';
import type { SystemInfo } from './dashboard/model.ts';
import { RegistryError } from './errors.ts';
import { wireBodyGuard } from './http/negotiate.ts';
import { ResponseCache } from './http/response-cache.ts';
import { DEFAULT_MAX_WATCHERS, DEFAULT_MAX_WATCHERS_PER_ADDRESS, StreamSlots } from './http/stream-slots.ts';
import type { PeerStatus } from './peers/replicator.ts';
import { DEFAULT_LIMITS } from './registry/limits.ts';
import type { RegistrationLimits } from './registry/limits.ts';
import type { Registry } from './registry/registry.ts';
import { applicationRoutes } from './routes/application.ts';
import { appsRoutes } from './routes/apps.ts';
import type { RouteDeps } from './routes/deps.ts';
import { instanceMetadataRoutes } from './routes/instance-metadata.ts';
import { instanceStatusRoutes } from './routes/instance-status.ts';
import { instanceRoutes } from './routes/instance.ts';
import { instancesRoutes } from './routes/instances.ts';
import { peerReplicationRoutes } from './routes/peer-replication.ts';
import { vipsRoutes } from './routes/vips.ts';
import { watchRoutes } from './routes/watch.ts';

export interface AppDeps {
  readonly registry: Registry;
  /** The service's `stopping` signal: watch streams end on it. */
  readonly stopping?: AbortSignal;
  /** Required for register, heartbeat, cancel, status, metadata and replication when set. */
  readonly writeAuth?: Credential | undefined;
  /** Credentials each limited to some applications' writes (REGISTRY_CLIENTS); `*` ones may write everything. */
  readonly clients?: ScopedCredentials | undefined;
  /** Required for reads when set (the write credential is accepted too). */
  readonly readAuth?: Credential | undefined;
  /** Watch stream keep-alive comment interval. Default 15 s. */
  readonly watchPingMs?: number;
  /** Changes a watch client may fall behind by before its stream is ended. Default 10,000. */
  readonly watchMaxQueued?: number;
  /** Most event streams (watch and dashboard) open at once; more are refused with 503. Default 1,000. */
  readonly maxWatchers?: number;
  /** Most event streams one source address (an IPv6 /64) may hold open; more are refused with 503. Default 100. */
  readonly maxWatchersPerAddress?: number;
  /** Longest a write to a stream may wait for its client to read before the stream is cut. Default 60 s. */
  readonly watchWriteTimeoutMs?: number;
  /** What the dashboard shows beyond the registry itself. */
  readonly dashboard?: DashboardOptions;
  /** Registration limits; each one defaults to DEFAULT_LIMITS'. */
  readonly limits?: Partial<RegistrationLimits>;
}

export interface DashboardOptions {
  /** Shown as "Environment". Default `development`. */
  readonly environment?: string;
  /** When the node started, for the uptime. Default: when createApp ran. */
  readonly startedAt?: number;
  /** The peers' states ("DS replicas"). Default: none. */
  readonly replicas?: () => readonly PeerStatus[];
  /** Memory and CPUs ("General info"). Default: this process. */
  readonly system?: () => SystemInfo;
}

/** The mount points of the Eureka API. */
export const EUREKA_PREFIXES = ['/eureka', '/eureka/v2'] as const;

/**
 * Builds the registry's routes, to be mounted on a kit service (which brings request ids, logging, the 1 MiB body
 * limit and the actuator endpoints).
 *
 * @example
 * const service = createService({ name: 'registry', logger });
 * service.app.route('/', createApp({ registry, stopping: service.stopping }));
 */
export function createApp(deps: AppDeps): Hono<KitEnv> {
  const routeDeps: RouteDeps = {
    registry: deps.registry,
    cache: new ResponseCache(deps.registry),
    stopping: deps.stopping ?? new AbortController().signal,
    watchPingMs: deps.watchPingMs ?? 15_000,
    watchMaxQueued: deps.watchMaxQueued ?? 10_000,
    watchWriteTimeoutMs: deps.watchWriteTimeoutMs ?? 60_000,
    // One budget for both kinds of stream: each holds a socket and a file descriptor alike.
    streams: new StreamSlots(
      deps.maxWatchers ?? DEFAULT_MAX_WATCHERS,
      deps.maxWatchersPerAddress ?? DEFAULT_MAX_WATCHERS_PER_ADDRESS,
    ),
    limits: { ...DEFAULT_LIMITS, ...deps.limits },
    access: { write: deps.writeAuth, clients: deps.clients, read: deps.readAuth },
  };
  const api = new Hono<KitEnv>();
  const access = { write: deps.writeAuth, clients: deps.clients, read: deps.readAuth, prefixes: EUREKA_PREFIXES };
  api.use(accessGuard(access));
  api.use(wireBodyGuard());
  // Order matters where paths overlap: /apps/delta before /apps/{APP}.
  api.route('/', appsRoutes(routeDeps));
  api.route('/', applicationRoutes(routeDeps));
  api.route('/', instanceStatusRoutes(routeDeps));
  api.route('/', instanceMetadataRoutes(routeDeps));
  api.route('/', instanceRoutes(routeDeps));
  api.route('/', instancesRoutes(routeDeps));
  api.route('/', vipsRoutes(routeDeps));
  api.route('/', peerReplicationRoutes(routeDeps));
  api.route('/', watchRoutes(routeDeps));
  api.onError(renderEurekaError);

  const dashboard = dashboardRoutes({
    registry: deps.registry,
    stopping: routeDeps.stopping,
    pingMs: routeDeps.watchPingMs,
    writeTimeoutMs: routeDeps.watchWriteTimeoutMs,
    streams: routeDeps.streams,
    // The dashboard shows the registry: it is a read, behind the read credential when one is set.
    guard: accessGuard(access),
    access: routeDeps.access,
    environment: deps.dashboard?.environment ?? 'development',
    startedAt: deps.dashboard?.startedAt ?? deps.registry.now(),
    replicas: deps.dashboard?.replicas ?? (() => []),
    system: deps.dashboard?.system ?? processSystemInfo,
  });
  dashboard.onError(renderEurekaError);

  const app = new Hono<KitEnv>();
  app.route('/', dashboard);
  for (const prefix of EUREKA_PREFIXES) app.route(prefix, api);
  return app;
}

/**
 * Eureka's error shape: text for 4xx with a reason (empty for 404, which Java clients would otherwise try to read
 * as an InstanceInfo), `server_error` for anything unexpected, whose detail goes to the log only.
 */
export function renderEurekaError(err: Error, c: Context<KitEnv>): Response {
  if (err instanceof RegistryError) {
    if (err.challenge !== undefined) c.header('www-authenticate', err.challenge);
    if (err.retryAfterSecs !== undefined) c.header('retry-after', String(err.retryAfterSecs));
    if (!err.hasBody) return c.body(null, err.status);
    return c.text(err.message, err.status);
  }
  if (err instanceof HTTPException && err.status < 500) return c.text(err.message || 'Bad request', err.status);
  c.var.log.error({ err }, 'request failed');
  return c.text('server_error', 500);
}
