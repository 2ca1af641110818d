// The config server's HTTP app: Spring Cloud Config's routes and error bodies, wired from injected dependencies.
import type { Context, Hono } from 'hono';
import {
  createService,
  CredentialLimiter,
  presentedName,
  StreamSlots,
  type HealthShowDetails,
  type KitEnv,
  type Logger,
  type Service,
  type TrustedProxies,
} from '@trellis/kit';
import { isUnrestricted, type AccessControl } from './access/clients.ts';
import { createGuard } from './access/guard.ts';
import { createOwnership } from './access/ownership.ts';
import type { EnvironmentBackend } from './backends/types.ts';
import type { KeyChain } from './cipher/index.ts';
import type { ConfigServerMetrics } from './metrics.ts';
import { createServedEnvironments } from './served-environments.ts';
import { isConfigServerError } from './errors.ts';
import type { RouteDeps } from './routes/deps.ts';
import type { PropertyStore } from './store/properties.ts';
import { adminRoutes } from './routes/admin.ts';
import { encryptionRoutes } from './routes/encryption.ts';
import { environmentRoutes } from './routes/environment.ts';
import { keyRoutes } from './routes/key.ts';
import { renderingRoutes } from './routes/renderings.ts';
import { resourceRoutes } from './routes/resources.ts';
import { watchRoutes } from './routes/watch.ts';
import { CLIENT_SECURITY } from './routes/openapi.ts';

export interface AppDeps {
  readonly logger: Logger;
  readonly backend: EnvironmentBackend;
  /** The installed keys; undefined when none is (then `/encrypt` answers NO_KEY and `{cipher}` values are invalid). */
  readonly keys?: KeyChain;
  /** Credentials and their applications; undefined leaves the server open (development). */
  readonly access?: AccessControl;
  /** Values served first, as the "overrides" source, to every application. */
  readonly overrides?: Readonly<Record<string, string>>;
  /** The service to mount on (main.ts passes the one it listens with, made with {@link renderError}). */
  readonly service?: Service;
  /** Who sees health details when no `service` is given (default never); main.ts sets it on the service it passes. */
  readonly healthShowDetails?: HealthShowDetails;
  /** The property store (SQLite or PostgreSQL): mounts the write, history and rollback API under `/admin/`. */
  readonly store?: PropertyStore;
  /** Credentials of the write API; undefined leaves it off (403) even when a store is given. */
  readonly admins?: AccessControl;
  /** Comment lines on idle watch streams keep proxies from closing them. Default 25 s. */
  readonly heartbeatMs?: number;
  /** Most watch streams open at once; more are refused with 503 and Retry-After. Default 1,000. */
  readonly maxWatchers?: number;
  /** Most watch streams open at once for one credential (or one address when the server is open). Default 100. */
  readonly maxWatchersPerClient?: number;
  /** A watch stream whose client has not taken a write after this long is cut. Default 60 s. */
  readonly watchWriteTimeoutMs?: number;
  /** Lockouts after wrong credentials (clients' and admins'); default 10 per name and 20 per source address. */
  readonly credentialLimiter?: CredentialLimiter;
  /**
   * Peers whose X-Forwarded-For names the client the limiter counts (the gateway): without them every caller behind
   * a proxy is one source, and one caller's wrong guesses lock all of them out. Default none.
   */
  readonly proxies?: TrustedProxies | undefined;
  /** The server's own meters (main.ts makes them when metrics are on). */
  readonly metrics?: ConfigServerMetrics | undefined;
}

export const DEFAULT_MAX_WATCHERS = 1000;
/** The limiter's source for credentials shown to the health endpoint, which sees no address. */
const HEALTH_DETAILS_SOURCE = 'health-details';
export const DEFAULT_MAX_WATCHERS_PER_CLIENT = 100;

/**
 * Spring's shapes: `{status, description}` for encryption errors, Spring Boot's error JSON for the rest. Pass it as
 * the service's `renderError` when handing createApp a service.
 */
export function renderError(err: unknown, c: Context<KitEnv>): Response | undefined {
  if (!isConfigServerError(err)) return undefined;
  if (err.retryAfterSecs !== undefined) c.header('retry-after', String(err.retryAfterSecs));
  const spring = err.springStatus;
  const body =
    spring !== undefined
      ? { status: spring, description: err.message }
      : {
          timestamp: new Date().toISOString(),
          status: err.status,
          error: REASONS[err.status] ?? 'Error',
          message: err.message,
          path: c.req.path,
        };
  return c.newResponse(JSON.stringify(body), err.status as 400, { 'content-type': 'application/json' });
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/**
 * The config server's HTTP app: Spring Cloud Config's Environment API, file renderings, plain resources,
 * `/encrypt` `/decrypt` `/key`, watch streams, and a `config` health component. No I/O happens here beyond the
 * backend's reads; nothing listens until main.ts does.
 *
 * @example
 * const app = createApp({ logger, backend: createNativeBackend({ root: './config-repo', defaultLabel: 'main' }) });
 * await app.request('/product/docker');
 */
export function createApp(deps: AppDeps): Hono<KitEnv> {
  const service =
    deps.service ??
    createService({
      name: 'config-server',
      logger: deps.logger,
      git: false,
      renderError,
      healthShowDetails: deps.healthShowDetails,
    });
  service.health.register('config', () => deps.backend.health());
  // The backend's details name the repository's path, its file count and other applications' broken files. With
  // --health-show-details when-authorized, they are shown to an unrestricted (`*`) client or a write API admin; an open
  // server (no CONFIG_CLIENTS) serves every file to anyone anyway, so it authorizes anyone.
  const { access, admins } = deps;
  const limiter = deps.credentialLimiter ?? new CredentialLimiter();
  service.restrictHealthDetails((header) => {
    if (access === undefined) return true;
    const credential = { authorization: header('authorization'), configToken: header('x-config-token') };
    const name = presentedName(credential.authorization, credential.configToken);
    if (name === undefined) return false;
    // Details shown or not would tell a right guess from a wrong one, so guesses here are limited too. The probe is
    // answered where no address is seen: they count under one key for everyone, which at worst hides the details
    // for a while (never a read or a write), instead of leaving a way around the lockouts.
    const key = `details:${name}`;
    if (limiter.retryAfter(HEALTH_DETAILS_SOURCE, key) !== undefined) return false;
    const client = access.authenticate(credential);
    const admin = admins?.authenticate(credential);
    if (client === undefined && admin === undefined) limiter.failed(HEALTH_DETAILS_SOURCE, key);
    else limiter.succeeded(HEALTH_DETAILS_SOURCE, key);
    return (client !== undefined && isUnrestricted(client)) || admin !== undefined;
  });
  const routeDeps: RouteDeps = {
    environments: createServedEnvironments({
      backend: deps.backend,
      keys: deps.keys,
      logger: deps.logger,
      metrics: deps.metrics,
      ...(deps.overrides === undefined ? {} : { overrides: deps.overrides }),
    }),
    backend: deps.backend,
    keys: deps.keys,
    guard: createGuard(deps.access, limiter, deps.proxies),
    // Admins' applications are application names too: the more names known, the fewer file names are ambiguous.
    ownership: createOwnership([...(deps.access?.applications ?? []), ...(deps.admins?.applications ?? [])]),
    logger: deps.logger,
    stopping: service.stopping,
    heartbeatMs: deps.heartbeatMs ?? 25_000,
    metrics: deps.metrics,
    security: deps.access === undefined ? undefined : CLIENT_SECURITY,
  };
  const app = service.app;
  // Fixed paths before the `/{name}/{profiles}` patterns they would otherwise match.
  app.route('/', encryptionRoutes(routeDeps));
  app.route('/', keyRoutes(routeDeps));
  app.route(
    '/',
    watchRoutes(routeDeps, {
      slots: new StreamSlots({
        max: deps.maxWatchers ?? DEFAULT_MAX_WATCHERS,
        perCaller: deps.maxWatchersPerClient ?? DEFAULT_MAX_WATCHERS_PER_CLIENT,
      }),
      writeTimeoutMs: deps.watchWriteTimeoutMs ?? 60_000,
    }),
  );
  // Before the environment patterns: `/admin/history/a/b/c` would otherwise read as an application called admin.
  if (deps.store !== undefined)
    app.route('/', adminRoutes({ store: deps.store, admins: deps.admins, limiter, proxies: deps.proxies }));
  app.route('/', renderingRoutes(routeDeps));
  const environments = environmentRoutes(routeDeps, deps.access, limiter);
  app.route('/', environments.app);
  // The same answers without the framework's per-request cost, for the fetch every service repeats (sockets only).
  service.leanRoute(environments.lean);
  app.route('/', resourceRoutes(routeDeps));
  return app;
}
