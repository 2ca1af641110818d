// The gateway as a Trellis component: settings → discovery, token verifier, routes → the kit service's listeners
// (HTTP and HTTPS), whose interceptor proxies every request before the framework except /actuator/*, which the proxy
// hands back to the service's app (health, info, route management) once screened.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { configHealthIndicator, createConfigClient, STARTUP_RETRY, type ConfigClient } from '@trellis/clients/config';
import {
  createDiscoveryClient,
  discoveryHealthIndicator,
  registerService,
  RoundRobin,
  type DiscoveryClient,
} from '@trellis/clients/discovery';
import {
  broadcastToWorkers,
  createObservability,
  createService,
  currentWorker,
  defineComponent,
  fromInternalCaller,
  onWorkerBroadcast,
  parseTrustedProxies,
  StartupError,
  type Health,
  type KitEnv,
  type Logger,
  type NodeServerOptions,
  type Running,
} from '@trellis/kit';
import { createTokenIntrospector, createTokenVerifier } from '@trellis/clients/security';
import { DEV_FILES, serverTls } from '@trellis/kit/tls';
import type { Hono } from 'hono';
import { createApp, renderError } from './app.ts';
import { gatewayConfig, gatewaySettings, type GatewayConfig } from './config.ts';
import { GatewayError } from './errors.ts';
import { createProxy } from './proxy/forward.ts';
import { ownPaths } from './proxy/own-paths.ts';
import { ALLOWED_METHODS, methodNotAllowed } from './proxy/screen.ts';
import { Upstreams } from './proxy/upstreams.ts';
import { routeApiComponents } from './routes/route-schemas.ts';
import { configRouteSource } from './routing/config-source.ts';
import { fileRouteSource, RouteManager } from './routing/manager.ts';
import { RouteState } from './routing/table.ts';
import { RedisBuckets } from './store/redis-buckets.ts';
import { writeRawError } from './proxy/websocket.ts';

/** What a worker (--workers) whose routes were refreshed through the API tells the others. */
const REFRESH_TOPIC = 'gateway:refresh';

/** Largest body the actuator endpoints read: route definitions are a few hundred bytes. */
const ROUTE_DEFINITION_LIMIT = 64 * 1024;

export interface GatewayOptions {
  /** Values for `${…}` placeholders of the routes file besides its own properties. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Drain bound on stop. Default 10 s. */
  readonly drainTimeoutMs?: number;
}

export interface RunningGateway extends Running {
  /** The app of the gateway's own endpoints (actuator, route API, API document): tests list its routes. */
  readonly app: Hono<KitEnv>;
  readonly manager: RouteManager;
  readonly discovery: DiscoveryClient | undefined;
  /** The config client routes come from, with --config-uri. */
  readonly config: ConfigClient | undefined;
}

function lbServicesHealth(manager: RouteManager, discovery: DiscoveryClient | undefined): Health {
  const services = new Set(manager.table.routes.filter((r) => r.target.lb).map((r) => r.target.host.toLowerCase()));
  const components: Record<string, Health> = {};
  for (const name of services) {
    const instances = discovery?.getInstances(name).length ?? 0;
    components[name] = { status: instances > 0 ? 'UP' : 'DOWN', details: { instances } };
  }
  const missing = Object.entries(components).filter(([, h]) => h.status !== 'UP');
  // Like the discovery indicator: one backend without instances must not take the whole edge out of its load
  // balancer, so the component says UNKNOWN (ranked below UP) and names the services; their routes answer 503.
  return missing.length === 0
    ? { status: 'UP', components }
    : {
        status: 'UNKNOWN',
        details: { reason: `no UP instance of ${missing.map(([n]) => n).join(', ')}` },
        components,
      };
}

/** The answer to a request node's parser refused, by the parser's error code. */
function parserRefusal(err: NodeJS.ErrnoException): GatewayError {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new GatewayError('header_too_large', 'the request line and headers are larger than the gateway accepts');
  }
  // llhttp knows the standard methods only: TRACK and made-up ones end here.
  if (err.code === 'HPE_INVALID_METHOD') {
    return new GatewayError('method_not_allowed', 'the request method is not one the gateway forwards', {
      headers: { allow: ALLOWED_METHODS },
    });
  }
  if (err.code === 'HPE_INVALID_URL') {
    return new GatewayError(
      'bad_request',
      // llhttp refuses both an unencoded byte outside printable ASCII and a target that is no URL or path at all.
      'the request target must be a path starting with "/" (or an absolute URL) with no characters outside printable ASCII (percent-encode them)',
    );
  }
  return new GatewayError('bad_request', 'the request is not valid HTTP/1.1');
}

/**
 * What the listeners answer before the proxy sees a request: JSON for the requests node's parser refuses, 405 for
 * CONNECT, Host checked by the proxy's screen (with a reason; node's own 400 has no body), and 100 Continue sent by
 * the proxy once a request passed its checks, so a client does not upload a body about to be refused (413, 401, 400).
 * A client too slow with its request head gets 408 and loses the connection at once, as node's own answer does: left
 * half-open, a slowloris client would hold it on.
 */
function edgeServer(connections: GatewayConfig['connections']): NodeServerOptions {
  return {
    requireHostHeader: false,
    handlerSendsContinue: true,
    headersTimeoutMs: connections.headersTimeoutMs,
    keepAliveTimeoutMs: connections.idleTimeoutMs,
    maxConnections: connections.max,
    clientError: (err, socket) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        writeRawError(
          socket,
          new GatewayError('request_timeout', 'the request line and headers did not arrive in time'),
        );
        socket.destroy();
      } else if (socket.writable && err.code !== 'ECONNRESET') writeRawError(socket, parserRefusal(err));
      else socket.destroy();
    },
    // CONNECT would make the gateway a tunnel to anywhere; node closes it silently without a listener.
    connect: (_req, socket) => writeRawError(socket, methodNotAllowed('CONNECT')),
  };
}

/** The `routes` health component: which sources feed the table, and why a source's last route set was refused. */
function routeSourcesHealth(manager: RouteManager, sources: readonly string[]): Health {
  const details = { routes: manager.table.routes.length, sources };
  const problems = manager.problems;
  if (problems.length === 0) return { status: 'UP', details };
  // UNKNOWN, not DOWN: the previous routes are still served, and a bad push must not pull every gateway out at once.
  return {
    status: 'UNKNOWN',
    details: {
      ...details,
      reason: `routes from ${problems.map((p) => p.source).join(' and ')} were refused; the previous routes are still in force`,
      problems: problems.map((p) => ({ source: p.source, error: p.message, at: new Date(p.at).toISOString() })),
    },
  };
}

/** Fetches the application `gateway`'s configuration, with Spring's fail-fast retry, and follows its changes. */
async function startConfigClient(
  server: NonNullable<GatewayConfig['configServer']>,
  ca: readonly string[],
  log: Logger,
): Promise<ConfigClient> {
  try {
    return await createConfigClient({
      uri: server.uri,
      name: 'gateway',
      profiles: server.profiles,
      ...(server.uri.startsWith('https:') && ca.length > 0 ? { ca } : {}),
      // As the example services: the config server may still be starting beside the gateway.
      retry: STARTUP_RETRY,
      logger: log,
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new StartupError(`gateway: cannot load its configuration from --config-uri (GATEWAY_CONFIG_URI): ${reason}`);
  }
}

/**
 * The CA the upstream pools trust besides the system roots: the configured file, which must be readable, or else the
 * local development CA that `trellis up` services serve certificates of, when this data directory has one.
 */
async function upstreamCa(config: Readonly<GatewayConfig>): Promise<string[]> {
  if (config.upstreamCaFile !== undefined) {
    try {
      return [await readFile(config.upstreamCaFile, 'utf8')];
    } catch (err) {
      throw new StartupError(
        `gateway: cannot read --upstream-ca-file (GATEWAY_UPSTREAM_CA_FILE, TRELLIS_CA_FILE) ${config.upstreamCaFile}: ${(err as Error).message}`,
      );
    }
  }
  try {
    return [await readFile(join(config.dataDir, 'tls', DEV_FILES.caFile), 'utf8')];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Starts a gateway from a ready configuration; what the component's start() does after reading settings. */
export async function startGateway(
  config: Readonly<GatewayConfig>,
  // Already names the component: trellis binds `component` on the logger of each one it starts.
  log: Logger,
  options: GatewayOptions = {},
): Promise<RunningGateway> {
  // The kit app serves only /actuator/*: its largest body is a route definition, and --max-request-size bounds it too.
  const actuatorBodyLimit = Math.min(config.maxRequestSize ?? Infinity, ROUTE_DEFINITION_LIMIT);
  const traceProxies = parseTrustedProxies(config.trustedProxies);
  const service = createService({
    name: 'gateway',
    description: 'Edge gateway',
    logger: log,
    renderError,
    bodyLimit: actuatorBodyLimit,
    drainTimeoutMs: options.drainTimeoutMs,
    server: edgeServer(config.connections),
    allowedHosts: config.allowedHosts,
    healthShowDetails: config.healthShowDetails,
    observability: await createObservability('gateway', config.observability, log),
    // The edge continues the trace headers of callers inside the deployment's network (behind --trusted-proxies, the
    // forwarded client's address decides); a caller on the internet starts a new trace, so it can neither choose the
    // trace id nor force its requests to be sampled.
    traceTrust: (req) => fromInternalCaller(req, traceProxies),
    // The route API's document (with --admin-auth) beside the actuator's; proxied routes are the upstreams' own.
    apiDocs: config.apiDocs
      ? { components: config.adminAuth === undefined ? undefined : routeApiComponents(config.adminAuth) }
      : undefined,
  });
  // Before the route API is mounted: what the app serves outside /actuator/ is the API document and Swagger UI.
  const ownPath = ownPaths(service.app.routes);
  const discovery =
    config.registryUrl === undefined
      ? undefined
      : createDiscoveryClient({ registryUrl: config.registryUrl, logger: log });
  const verifier =
    config.tokens === undefined
      ? undefined
      : createTokenVerifier({
          issuer: config.tokens.issuer,
          audience: config.tokens.audience,
          ...(config.tokens.jwksUri === undefined ? {} : { jwksUri: config.tokens.jwksUri }),
          logger: log,
        });
  // Routes with TokenCheck's introspect: true ask the issuer about every token, with this client's credential.
  const introspection = config.tokens?.introspection;
  const introspector =
    config.tokens === undefined || introspection === undefined
      ? undefined
      : createTokenIntrospector({
          issuer: config.tokens.issuer,
          audience: config.tokens.audience,
          clientId: introspection.clientId,
          clientSecret: introspection.clientSecret,
          ...(introspection.uri === undefined ? {} : { introspectionUrl: introspection.uri }),
          logger: log,
        });
  const ca = await upstreamCa(config);
  const configClient =
    config.configServer === undefined ? undefined : await startConfigClient(config.configServer, ca, log);
  const buckets =
    config.rateLimitRedisUrl === undefined
      ? undefined
      : new RedisBuckets({ url: config.rateLimitRedisUrl, logger: log });
  const closeClients = async (): Promise<void> => {
    await configClient?.close();
    await buckets?.close();
    await introspector?.close();
  };
  const fileSource =
    config.routesFile === undefined ? undefined : fileRouteSource(config.routesFile, options.env ?? {});
  const configSource = configClient === undefined ? undefined : configRouteSource(configClient, options.env ?? {});
  const manager = new RouteManager(
    { file: fileSource, config: configSource },
    {
      requireTokens: config.requireTokens,
      canVerifyTokens: verifier !== undefined,
      canIntrospectTokens: introspector !== undefined,
      canDiscover: discovery !== undefined,
      logger: log,
      now: Date.now,
      state: new RouteState(),
      sharedBuckets: buckets,
    },
  );
  // A change on the config server (its watch stream) replaces the table; a route set that does not compile is refused
  // and the routes in force stay (the `routes` health component says why). Subscribed before the first load, so no
  // change slips in between.
  configClient?.subscribe((change) => {
    manager.reload('config').then(
      (table) =>
        log.info(
          { routes: table.routes.length, version: change.current.version },
          'routes replaced from the config server',
        ),
      (err: unknown) => {
        if (err instanceof GatewayError) {
          log.warn(
            { reason: err.message, version: change.current.version },
            'config server routes refused; the routes in force are kept',
          );
        } else log.error({ err }, 'config server routes could not be applied');
      },
    );
  });
  try {
    // The config client fetched just now: read what it holds rather than fetch again.
    await manager.refresh(false);
  } catch (err) {
    await closeClients();
    if (err instanceof GatewayError) {
      const from = [
        ...(fileSource === undefined ? [] : ['--routes-file (GATEWAY_ROUTES_FILE)']),
        ...(configSource === undefined ? [] : [configSource.name]),
      ];
      throw new StartupError(`gateway: routes from ${from.join(' and ')}: ${err.message}`);
    }
    throw err;
  }
  const upstreams = new Upstreams({ connectTimeoutMs: config.connectTimeoutMs, ca });
  if (config.proxySecret !== undefined && config.authServerUpstreams.length === 0) {
    // Not an error: the secret is simply sent nowhere, and the auth server keys callers on the gateway's address.
    log.warn('--proxy-secret is sent to no upstream: set --issuer or --auth-server-upstreams (the auth server)');
  }
  const proxy = createProxy({
    table: () => manager.table,
    upstreams,
    discovery,
    balancer: new RoundRobin(),
    verifier,
    introspector,
    logger: log,
    connectTimeoutMs: config.connectTimeoutMs,
    responseTimeoutMs: config.responseTimeoutMs,
    maxRequestSize: config.maxRequestSize,
    trustedProxies: config.trustedProxies,
    proxySecret: config.proxySecret,
    authServerUpstreams: config.authServerUpstreams,
    maxInFlightPerClient: config.maxInFlightPerClient,
    actuator: (req, res) => service.serveApp(req, res),
    ownPath,
    observability: service.observability,
  });
  // Every request is the proxy's, before the framework: it screens it, then forwards it or hands /actuator/* back.
  service.intercept((req, res) => {
    proxy.handle(req, res);
    return true;
  });
  service.onUpgrade((req, socket, head) => proxy.upgrade(req, socket, head));
  const worker = currentWorker();
  service.app.route(
    '/',
    createApp({
      manager,
      adminAuth: config.adminAuth,
      maxRoutes: config.maxRoutes,
      workers: worker?.count,
      refreshed: () => broadcastToWorkers(REFRESH_TOPIC),
      trustedProxies: traceProxies,
    }),
  );
  // A refresh through the API reached one worker; the others re-read their sources when it tells them.
  const stopRefreshes = onWorkerBroadcast(REFRESH_TOPIC, () => {
    manager.refresh().then(
      (table) => log.info({ routes: table.routes.length }, 'routes refreshed (asked by another worker)'),
      (err: unknown) => log.warn({ err }, 'routes not refreshed (asked by another worker)'),
    );
  });
  service.onShutdown('worker refreshes', stopRefreshes);
  if (worker !== undefined && worker.slot === 1 && buckets === undefined) {
    log.warn(
      { workers: worker.count },
      `RequestRateLimiter buckets are kept in each worker: with ${worker.count} workers a route admits up to ${worker.count} times its rate; set --rate-limit-redis-url to share them`,
    );
  }
  service.health.register('gatewayRoutes', () => lbServicesHealth(manager, discovery));
  const sourceNames = [fileSource?.name, configSource?.name].filter((n): n is string => n !== undefined);
  service.health.register('routes', () => routeSourcesHealth(manager, sourceNames));
  if (configClient !== undefined) service.health.register('config', configHealthIndicator(configClient));
  if (buckets !== undefined) service.health.register('rateLimiter', () => buckets.health());
  // After the drain, in reverse: the upstream pools, then the config, Redis and introspection clients, then discovery.
  service.onShutdown('discovery client', () => discovery?.stop());
  service.onShutdown('clients', closeClients);
  service.onShutdown('upstream pools', () => upstreams.close());

  try {
    if (discovery !== undefined) await discovery.start();
    await service.listen({ port: config.port, host: config.host, setting: '--port (GATEWAY_PORT)' });
    if (config.httpsPort !== undefined) {
      const tls = await serverTls({ dataDir: config.dataDir, ...config.tls, logger: log });
      await service.listen({
        port: config.httpsPort,
        host: config.host,
        tls: { key: tls.key, cert: tls.cert },
        setting: '--https-port (GATEWAY_HTTPS_PORT)',
      });
    }
    if (config.registryUrl !== undefined) {
      registerService(service, { registryUrl: config.registryUrl, discovery });
    } else if (discovery !== undefined) {
      service.health.register('discovery', discoveryHealthIndicator({ client: discovery }));
    }
  } catch (err) {
    await service.stop();
    throw err;
  }
  const routes = manager.table.routes.length;
  const notes = [
    `gateway: ${routes} route(s)${sourceNames.length === 0 ? '' : ` from ${sourceNames.join(' and ')}`}, ${
      config.tokens === undefined ? 'no token checks (set --issuer)' : `tokens of ${config.tokens.issuer}`
    }`,
  ];
  if (buckets !== undefined) notes.push('gateway: RequestRateLimiter buckets shared in Redis');
  if (config.adminAuth === undefined) notes.push('gateway: route management API off (set --admin-auth)');
  return {
    name: 'gateway',
    endpoints: service.endpoints,
    notes,
    // The landscape's front door, offered over HTTPS only (tokens and passwords pass through it).
    offers: { entry: service.endpoints.find((e) => e.protocol === 'https')?.url },
    app: service.app,
    manager,
    discovery,
    config: configClient,
    stop: () => service.stop(),
  };
}

/**
 * The gateway as a landscape component (`trellis gateway`, or part of `trellis up`).
 *
 * @example
 * const running = await gatewayComponent.start(loadSettings(gatewayComponent.settings, { env }), { logger, env });
 */
export const gatewayComponent = defineComponent({
  name: 'gateway',
  summary: 'Edge gateway with Spring Cloud Gateway routes, lb:// through the registry, token checks (8080, 8443)',
  settings: gatewaySettings(),
  start: (settings, context) =>
    startGateway(gatewayConfig(settings, context.env), context.logger, { env: context.env }),
});
