// A service: the kit's app and actuator behind its one node-level server, interceptors first, graceful shutdown.
import type http from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Context, Hono } from 'hono';
import { StartupError } from './errors.ts';
import { HealthRegistry, OUT_OF_SERVICE, UP, type HealthRegistryOptions } from './health.ts';
import { mountActuator, type DetailsPolicy, type HealthShowDetails } from './actuator.ts';
import { createKitApp, type KitEnv } from './hono-app.ts';
import { mountApiDocs, type ApiDocsOptions } from './openapi.ts';
import type { GitInfo } from './info.ts';
import { chainInterceptors, interceptContext, type Interceptor } from './intercept.ts';
import { leanRoutes, type LeanRoute } from './lean-routes.ts';
import type { Logger } from './logger.ts';
import {
  createNodeServer,
  type Endpoint,
  type ListenOptions,
  type NodeServerOptions,
  type SocketHandler,
} from './node-server.ts';
import { requestIdOf } from './request-log.ts';
import { finishedWithin } from './timeout.ts';
import { observeRequests, withObservability, type Observability, type TraceTrust } from './observability/index.ts';

export type ShutdownHook = () => void | Promise<void>;

export interface ServiceOptions {
  readonly name: string;
  readonly version?: string;
  readonly description?: string;
  readonly logger: Logger;
  /** Largest request body in bytes; larger ones get 413 before a handler reads them. Default 1 MiB. */
  readonly bodyLimit?: number;
  readonly health?: HealthRegistryOptions;
  /** How long in-flight requests may take to finish on shutdown before their connections are cut. Default 10 s. */
  readonly drainTimeoutMs?: number;
  /** How long one shutdown hook may take. Default 5 s. */
  readonly hookTimeoutMs?: number;
  /** Renders errors whose shape a protocol fixes (Eureka, Spring, OAuth); return undefined for the default. */
  readonly renderError?: (err: unknown, c: Context<KitEnv>) => Response | undefined;
  /** Extra `/actuator/info` content. Git details are read from the working directory unless `false`. */
  readonly info?: Readonly<Record<string, unknown>>;
  readonly git?: GitInfo | false;
  /** What the listeners answer before any handler (refused heads, CONNECT, 100 Continue, Host); node's by default. */
  readonly server?: NodeServerOptions;
  /**
   * Host names served besides loopback ones, `*` for any: the `--allowed-hosts` setting (see NodeServerOptions).
   * Overrides `server.allowedHosts`.
   */
  readonly allowedHosts?: readonly string[] | undefined;
  /** Who sees health details: the `--health-show-details` setting. Default `never`, the status alone. */
  readonly healthShowDetails?: HealthShowDetails | undefined;
  /**
   * Meters (served at /actuator/prometheus) and tracer, made with `createObservability` from the `--metrics` and
   * `--tracing*` settings. Default: neither.
   */
  readonly observability?: Observability | undefined;
  /**
   * Whose trace headers a request span continues; the others start a new trace. Default: every caller's, as inside a
   * landscape. A service at the public edge (the gateway) passes its own rule: a caller on the internet would
   * otherwise choose the trace id and force its requests to be sampled.
   */
  readonly traceTrust?: TraceTrust | undefined;
  /**
   * Serve the OpenAPI document of the app's documented routes at /v3/api-docs and Swagger UI at /swagger-ui.html
   * (see `documented`, `apiDocsEnabled`); title and version default to the service's. Default: neither.
   */
  readonly apiDocs?: Partial<ApiDocsOptions> | undefined;
}

export interface Service {
  readonly name: string;
  readonly app: Hono<KitEnv>;
  readonly health: HealthRegistry;
  readonly log: Logger;
  /** Aborted when shutdown begins: long-lived responses (watch streams) end themselves on it. */
  readonly stopping: AbortSignal;
  readonly endpoints: readonly Endpoint[];
  /** This service's meters and tracer; clients made for it record into them (see `inScope`). */
  readonly observability: Observability;
  /**
   * Runs `fn` in this service's observability scope: clients made inside it (discovery, config, tokens, binders)
   * record their meters and spans as this service's.
   */
  inScope<T>(fn: () => T): T;
  /**
   * Takes requests on the node request before the health probes and the app (see Interceptor). Interceptors run in
   * order of addition; the lean routes are one of them, where the first was added.
   */
  intercept(interceptor: Interceptor): void;
  /** Adds a lean route (see LeanRoute); lean routes are tried in order of addition, before the probes and the app. */
  leanRoute(route: LeanRoute): void;
  /**
   * Serves a node request as if no interceptor had taken it (the health probes, then the app): for an interceptor
   * that hands a request on only after screening it.
   */
  serveApp(req: http.IncomingMessage, res: http.ServerResponse): void;
  /** Serves `Upgrade` requests (WebSocket) on every listener; their connections are cut on stop, not drained. */
  onUpgrade(handler: SocketHandler): void;
  /**
   * Who counts as authorized when `healthShowDetails` is `when-authorized`: requests `allowed` admits, reading their
   * headers, see the health details (paths, counts, errors); the others get the status and each component's status,
   * as with Spring Boot's `show-details: when-authorized`. The HTTP status is the same for both. Until called, no request is authorized.
   */
  restrictHealthDetails(allowed: DetailsPolicy): void;
  /** Adds a hook run on shutdown after requests have drained; hooks run in reverse order of addition. */
  onShutdown(name: string, hook: ShutdownHook): void;
  /** Binds one listener (HTTP, or HTTPS with `tls`); call again for a second port. */
  listen(options: ListenOptions): Promise<Endpoint>;
  /** Stops accepting, drains in-flight requests (bounded), runs shutdown hooks. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Creates a service: a hono app with request ids, request logging, error rendering, body limit and the actuator
 * endpoints (`/actuator/health`, its liveness and readiness groups, `/actuator/info`), plus listeners and graceful
 * shutdown. Nothing is bound until `listen`, so route tests use `service.app.request()`.
 *
 * @example
 * const service = createService({ name: 'review', logger });
 * service.app.get('/review', (c) => c.json([]));
 * await service.listen({ port: 7003 });
 */
export function createService(options: ServiceOptions): Service {
  const log = options.logger;
  const health = new HealthRegistry(options.health);
  const stopController = new AbortController();
  const hooks: { name: string; hook: ShutdownHook }[] = [];
  let stopPromise: Promise<void> | undefined;

  health.register('livenessState', () => UP, { groups: ['liveness'] });
  health.register('readinessState', () => (stopController.signal.aborted ? OUT_OF_SERVICE : UP), {
    groups: ['readiness'],
  });

  const observability = options.observability ?? {};
  const app = createKitApp({ log, bodyLimit: options.bodyLimit, renderError: options.renderError });
  const actuator = mountActuator(app, {
    metrics: observability.metrics,
    name: options.name,
    version: options.version,
    description: options.description,
    health,
    log,
    info: options.info,
    git: options.git,
    showDetails: options.healthShowDetails,
  });
  if (options.apiDocs !== undefined) {
    mountApiDocs(app, {
      title: options.description ?? options.name,
      version: options.version ?? '0.0.0',
      ...options.apiDocs,
    });
  }
  // A service that lets requests without Host through (its interceptor screens Host itself) has the app take them
  // as for localhost, not refuse them with node-server's bare 400: HTTP/1.0 allows leaving Host out.
  const listener = getRequestListener(
    (request, env) => app.fetch(request, env),
    options.server?.requireHostHeader === false ? { hostname: 'localhost' } : {},
  );
  const serveApp = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (actuator.answerProbe(req, res)) return;
    // Set here rather than as a hono header, which turns the response's plain header object into a WHATWG Headers.
    res.setHeader('x-request-id', requestIdOf(req));
    void listener(req, res);
  };

  let intercepted: Interceptor | undefined;
  const intercept = (interceptor: Interceptor): void => {
    intercepted = intercepted === undefined ? interceptor : chainInterceptors(intercepted, interceptor);
  };
  const context = interceptContext(log);
  const routes: LeanRoute[] = [];
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    // While draining, ask keep-alive clients to reconnect elsewhere instead of reusing this connection.
    if (stopController.signal.aborted) res.setHeader('connection', 'close');
    if (intercepted !== undefined && intercepted(req, res, context)) return;
    serveApp(req, res);
  };
  const server = createNodeServer({
    name: options.name,
    log,
    handle: observeRequests(handle, observability.metrics, observability.tracing, options.traceTrust),
    options:
      options.allowedHosts === undefined ? options.server : { ...options.server, allowedHosts: options.allowedHosts },
  });

  async function listen(opts: ListenOptions): Promise<Endpoint> {
    if (stopController.signal.aborted) throw new StartupError(`${options.name} is stopping`);
    return server.listen(opts);
  }

  async function doStop(): Promise<void> {
    stopController.abort();
    log.info('stopping');
    await server.close(options.drainTimeoutMs ?? 10_000);
    for (const { name, hook } of hooks.reverse()) {
      try {
        const done = await finishedWithin(Promise.resolve().then(hook), options.hookTimeoutMs ?? 5000);
        if (!done) log.warn({ hook: name }, 'shutdown hook timed out');
      } catch (err) {
        log.error({ err, hook: name }, 'shutdown hook failed');
      }
    }
    // Last, so the spans of the drained requests and of the hooks are sent.
    await observability.tracing?.shutdown().catch((err: unknown) => log.warn({ err }, 'sending the last spans failed'));
    log.info('stopped');
  }

  return {
    name: options.name,
    app,
    health,
    log,
    stopping: stopController.signal,
    endpoints: server.endpoints,
    observability,
    inScope: (fn) => withObservability(observability, fn),
    intercept,
    leanRoute: (route) => {
      if (routes.length === 0) intercept(leanRoutes(routes));
      routes.push(route);
    },
    serveApp,
    onUpgrade: (handler) => server.onUpgrade(handler),
    restrictHealthDetails: (allowed) => actuator.restrictDetails(allowed),
    onShutdown: (name, hook) => {
      hooks.push({ name, hook });
    },
    listen,
    stop: () => (stopPromise ??= doStop()),
  };
}
