import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { isTrellisError, StartupError } from './errors.ts';
import {
  HealthRegistry,
  httpStatusOf,
  OUT_OF_SERVICE,
  UP,
  type Health,
  type HealthGroup,
  type HealthRegistryOptions,
} from './health.ts';
import { readGitInfo, type GitInfo } from './info.ts';
import { redactUrl, type Logger } from './logger.ts';

/** What every handler of a kit service can read from the context: `c.var.log` is the request's child logger. */
export interface KitEnv {
  Bindings: HttpBindings;
  Variables: {
    log: Logger;
    requestId: string;
    /**
     * The level of this request's `request completed` line when it succeeds (2xx–4xx); 5xx always log at error.
     * A route answering routine, high-volume traffic (heartbeats, probes) sets `debug` so it does not flood the log.
     */
    requestLogLevel?: RequestLogLevel;
  };
}

/** Levels a route may choose for its `request completed` line. */
export type RequestLogLevel = 'debug' | 'info';

/** What a lean route sees of a request: the node request's parts, nothing parsed beyond the query split. */
export interface LeanRequest {
  readonly method: string;
  /** The path as sent (still percent-encoded), without the query. */
  readonly path: string;
  /** The query string without its `?`; empty when none. */
  readonly search: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly requestId: string;
}

export interface LeanResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  /** Level of the `request completed` line; 5xx always log at error. Default info. */
  readonly logLevel?: RequestLogLevel;
}

/**
 * A route answered on the node request, before the framework: no WHATWG Request or Response, no middleware. Only
 * for a protocol's hot path whose requests carry no body (heartbeats); the kit still sets the request id, the
 * drain's `connection: close` and logs `request completed`. `answer` returns undefined for anything it does not
 * fully handle (another path, bad input, missing credentials), and the request then goes through the app's routes
 * as usual, which must therefore serve the same requests with the same answers.
 */
export interface LeanRoute {
  readonly method: 'GET' | 'PUT' | 'DELETE';
  readonly answer: (req: LeanRequest) => LeanResponse | undefined;
}

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
}

export interface ListenOptions {
  readonly port: number;
  /** Interface to bind; all interfaces when omitted. */
  readonly host?: string;
  readonly tls?: { readonly key: string; readonly cert: string };
  /** How the port is set, named in the error when it cannot be bound (e.g. `--port (PORT)`). */
  readonly setting?: string;
}

export interface Endpoint {
  readonly protocol: 'http' | 'https';
  readonly port: number;
  /** A URL for this machine: `http://localhost:8761`. */
  readonly url: string;
}

export interface Service {
  readonly name: string;
  readonly app: Hono<KitEnv>;
  readonly health: HealthRegistry;
  readonly log: Logger;
  /** Aborted when shutdown begins: long-lived responses (watch streams) end themselves on it. */
  readonly stopping: AbortSignal;
  readonly endpoints: readonly Endpoint[];
  /** Adds a lean route (see LeanRoute); lean routes are tried in order of addition, before the app. */
  leanRoute(route: LeanRoute): void;
  /**
   * Shows health details (paths, counts, errors) only to requests `allowed` admits, reading their headers; the others
   * get the status and each component's status, like Spring Boot's `show-details: when-authorized`. The HTTP status
   * is the same for both. Until called, every request sees the details.
   */
  restrictHealthDetails(allowed: (header: (name: string) => string | undefined) => boolean): void;
  /** Adds a hook run on shutdown after requests have drained; hooks run in reverse order of addition. */
  onShutdown(name: string, hook: ShutdownHook): void;
  /** Binds one listener (HTTP, or HTTPS with `tls`); call again for a second port. */
  listen(options: ListenOptions): Promise<Endpoint>;
  /** Stops accepting, drains in-flight requests (bounded), runs shutdown hooks. Safe to call twice. */
  stop(): Promise<void>;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** A node request's header by name (the first, when sent twice). */
function headerOf(req: http.IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const value = req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
}
/** The health endpoints and the group each reports (undefined: every component). */
const PROBES: ReadonlyMap<string, HealthGroup | undefined> = new Map([
  ['/actuator/health', undefined],
  ['/actuator/health/liveness', 'liveness'],
  ['/actuator/health/readiness', 'readiness'],
]);
const REQUEST_ID_KEY = Symbol('trellis.requestId');
type IncomingWithId = http.IncomingMessage & { [REQUEST_ID_KEY]?: string };

/** Keeps a caller's well-formed request id so one id follows a call across services; otherwise a new one. */
function requestIdFor(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
const ACTUATOR = '/actuator/';

/**
 * A child logger made on first use: pino's child() costs microseconds (redaction set-up), which would dominate a
 * small request that never logs.
 */
function lazyChild(parent: Logger, bindings: Record<string, string>): Logger {
  return new Proxy(parent, new LazyChildHandler(parent, bindings));
}

/** A class, not an object literal: no closure is made per request (tsx names each closure with a defineProperty). */
class LazyChildHandler implements ProxyHandler<Logger> {
  #child: Logger | undefined;
  readonly #parent: Logger;
  readonly #bindings: Record<string, string>;

  constructor(parent: Logger, bindings: Record<string, string>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  get(_target: Logger, prop: string | symbol): unknown {
    const child = (this.#child ??= this.#parent.child(this.#bindings));
    const value: unknown = Reflect.get(child, prop, child);
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(child) : value;
  }
}

function json(c: Context<KitEnv>, status: number, body: unknown): Response {
  return c.json(body, status as 200);
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
  const app = new Hono<KitEnv>();
  const stopController = new AbortController();
  const hooks: { name: string; hook: ShutdownHook }[] = [];
  const servers: http.Server[] = [];
  const endpoints: Endpoint[] = [];
  let stopPromise: Promise<void> | undefined;
  const git = options.git === false ? undefined : (options.git ?? readGitInfo());

  health.register('livenessState', () => UP, { groups: ['liveness'] });
  health.register('readinessState', () => (stopController.signal.aborted ? OUT_OF_SERVICE : UP), {
    groups: ['readiness'],
  });

  const logCompleted = (
    level: 'error' | RequestLogLevel,
    requestId: string,
    method: string,
    url: string,
    status: number,
    started: number,
  ): void => {
    log[level](
      {
        reqId: requestId,
        req: { method, url: redactUrl(url) },
        res: { statusCode: status },
        responseTime: Math.round((performance.now() - started) * 100) / 100,
      },
      'request completed',
    );
  };

  const limit = options.bodyLimit ?? 1024 * 1024;
  const tooLarge = (c: Context<KitEnv>): Response =>
    json(c, 413, { error: 'payload_too_large', message: `request body over ${limit} bytes` });
  const limitBody: MiddlewareHandler<KitEnv> = bodyLimit({
    maxSize: limit,
    onError: (c) => tooLarge(c as Context<KitEnv>),
  });
  // Touching `c.req.raw.body` (as hono's bodyLimit does first) makes node-server build a full WHATWG Request with a
  // ReadableStream and an AbortSignal: a third of a small request's cost. GET and HEAD carry no body. Over a socket,
  // node's parser has already framed the request: with neither content-length nor transfer-encoding there is no
  // body, and a content-length alone is exactly what the parser will deliver, so the header decides. Only chunked
  // bodies (and in-process requests) go through the counting middleware.
  const admitBody: MiddlewareHandler<KitEnv> = (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const headers = (c.env as Partial<HttpBindings> | undefined)?.incoming?.headers;
    if (headers === undefined || headers['transfer-encoding'] !== undefined) return limitBody(c, next);
    const length = headers['content-length'];
    if (length === undefined) return next();
    return Number(length) > limit ? Promise.resolve(tooLarge(c)) : next();
  };

  app.use(async (c, next) => {
    const started = performance.now();
    // Over a socket the id was chosen and set on the response by the node-level handler (cheaper than a hono
    // header, which turns the response's plain header object into a WHATWG Headers); in-process requests get one here.
    const env: Partial<HttpBindings> | undefined = c.env;
    const incoming: IncomingWithId | undefined = env?.incoming;
    let requestId = incoming?.[REQUEST_ID_KEY];
    if (requestId === undefined) {
      requestId = requestIdFor(c.req.header('x-request-id'));
      c.header('x-request-id', requestId);
    }
    c.set('log', lazyChild(log, { reqId: requestId }));
    c.set('requestId', requestId);
    // One middleware for the request line and the body limit: each hono middleware costs about 2 µs a request.
    // A refusal comes back as a Response; next() itself resolves to hono's context.
    const refused: unknown = await admitBody(c, next);
    if (refused instanceof Response) c.res = refused;
    // A handler that wrote to the node response itself (oidc-provider, proxies) returns hono's marker response;
    // the real status is on the node response.
    const status =
      c.res === RESPONSE_ALREADY_SENT && incoming !== undefined ? (env?.outgoing?.statusCode ?? 0) : c.res.status;
    // Probes hit actuator endpoints every few seconds; at info they would drown the log.
    const level =
      status >= 500 ? 'error' : (c.get('requestLogLevel') ?? (c.req.path.startsWith(ACTUATOR) ? 'debug' : 'info'));
    if (!log.isLevelEnabled(level)) return;
    const query = c.req.url.indexOf('?');
    const url = query === -1 ? c.req.path : c.req.path + c.req.url.slice(query);
    logCompleted(level, requestId, c.req.method, url, status, started);
  });

  app.onError((err, c) => {
    const custom = options.renderError?.(err, c);
    if (custom !== undefined) return custom;
    if (isTrellisError(err) && err.status < 500) {
      return json(c, err.status, { error: err.code, message: err.message });
    }
    if (err instanceof HTTPException && err.status < 500) {
      return json(c, err.status, { error: 'bad_request', message: err.message || 'bad request' });
    }
    c.var.log.error({ err }, 'request failed');
    return json(c, 500, { error: 'server_error' });
  });

  app.notFound((c) => json(c, 404, { error: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` }));

  let detailsAllowed: ((header: (name: string) => string | undefined) => boolean) | undefined;
  // Made once per aggregate: the registry hands back the same object while nothing changed.
  const summaries = new WeakMap<Health, Health>();
  const summaryOf = (h: Health): Health => {
    let summary = summaries.get(h);
    if (summary === undefined) {
      summary =
        h.components === undefined
          ? { status: h.status }
          : {
              status: h.status,
              components: Object.fromEntries(Object.entries(h.components).map(([k, v]) => [k, summaryOf(v)])),
            };
      summaries.set(h, summary);
    }
    return summary;
  };
  const visible = (h: Health, header: (name: string) => string | undefined): Health => {
    if (detailsAllowed === undefined) return h;
    let allowed = false;
    try {
      allowed = detailsAllowed(header);
    } catch (err) {
      log.error({ err }, 'health details check failed');
    }
    return allowed ? h : summaryOf(h);
  };
  const renderHealth = (c: Context<KitEnv>, h: Health): Response =>
    json(
      c,
      httpStatusOf(h.status),
      visible(h, (name) => c.req.header(name)),
    );
  app.get('/actuator/health', async (c) => renderHealth(c, await health.check()));
  // One parameterised route for the groups and the components: a literal segment beside a parameter at the same
  // place (`/health/liveness` and `/health/:component`) makes hono fall back from its one-regular-expression router to
  // its trie router for every route of the service, which costs microseconds on every request of a large API.
  app.get('/actuator/health/:component', async (c) => {
    const name = c.req.param('component');
    const path = `/actuator/health/${name}`;
    if (PROBES.has(path)) return renderHealth(c, await health.check(PROBES.get(path)));
    const h = await health.checkOne(name);
    return h === undefined ? c.notFound() : renderHealth(c, h);
  });
  const info = {
    app: { name: options.name, version: options.version ?? '0.0.0', description: options.description },
    ...(git === undefined ? {} : { git }),
    ...options.info,
  };
  app.get('/actuator/info', (c) => json(c, 200, info));

  const listener = getRequestListener((request, env) => app.fetch(request, env));
  // The registry hands back the same aggregate object while nothing changed; its body is serialized once.
  const probeBodies = new WeakMap<Health, { body: string; length: number }>();
  const sendProbe = (h: Health, requestId: string, res: http.ServerResponse): void => {
    let cached = probeBodies.get(h);
    if (cached === undefined) {
      const body = JSON.stringify(h);
      cached = { body, length: Buffer.byteLength(body) };
      probeBodies.set(h, cached);
    }
    res.writeHead(httpStatusOf(h.status), {
      'content-type': 'application/json',
      'content-length': cached.length,
      'x-request-id': requestId,
    });
    res.end(cached.body);
  };
  const probeFailed = (err: unknown, res: http.ServerResponse): void => {
    log.error({ err }, 'health probe failed');
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}');
  };
  // No closure is made on the synchronous path: tsx names every closure it creates (a defineProperty each).
  const answerProbe = (
    group: HealthGroup | undefined,
    req: http.IncomingMessage,
    requestId: string,
    res: http.ServerResponse,
  ): void => {
    try {
      const h = health.evaluate(group);
      if (h instanceof Promise) {
        h.then(
          (r) => sendProbe(detailsAllowed === undefined ? r : visible(r, headerOf(req)), requestId, res),
          (err: unknown) => probeFailed(err, res),
        );
      } else {
        sendProbe(detailsAllowed === undefined ? h : visible(h, headerOf(req)), requestId, res);
      }
    } catch (err) {
      probeFailed(err, res);
    }
  };
  const handle = (req: IncomingWithId, res: http.ServerResponse): void => {
    const requestId = requestIdFor(req.headers['x-request-id']);
    // While draining, ask keep-alive clients to reconnect elsewhere instead of reusing this connection.
    if (stopController.signal.aborted) res.setHeader('connection', 'close');
    // Orchestrators and load balancers poll the probes constantly: they are answered here, from the same health
    // registry as the routes above, without the framework's per-request cost.
    if (req.method === 'GET' && req.url !== undefined && PROBES.has(req.url)) {
      answerProbe(PROBES.get(req.url), req, requestId, res);
      return;
    }
    if (leanRoutes.length > 0 && answerLean(req, requestId, res)) return;
    req[REQUEST_ID_KEY] = requestId;
    res.setHeader('x-request-id', requestId);
    void listener(req, res);
  };
  const leanRoutes: LeanRoute[] = [];
  /**
   * True when a lean route answered. Requests with a body always go to the app (its body limit, its parsers); fetch
   * and most HTTP clients send `content-length: 0` with a bodiless PUT, which is no body.
   */
  const answerLean = (req: http.IncomingMessage, requestId: string, res: http.ServerResponse): boolean => {
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) return false;
    const started = performance.now();
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const request: LeanRequest = {
      method,
      path: q === -1 ? url : url.slice(0, q),
      search: q === -1 ? '' : url.slice(q + 1),
      headers: req.headers,
      requestId,
    };
    for (const route of leanRoutes) {
      if (route.method !== method) continue;
      let answer: LeanResponse | undefined;
      try {
        answer = route.answer(request);
      } catch (err) {
        log.error({ err, reqId: requestId }, 'request failed');
        answer = { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"server_error"}' };
      }
      if (answer === undefined) continue;
      const body = answer.body ?? '';
      res.writeHead(answer.status, {
        ...answer.headers,
        'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
        'x-request-id': requestId,
      });
      res.end(body);
      const level = answer.status >= 500 ? 'error' : (answer.logLevel ?? 'info');
      if (log.isLevelEnabled(level)) logCompleted(level, requestId, method, url, answer.status, started);
      return true;
    }
    return false;
  };

  async function listen(opts: ListenOptions): Promise<Endpoint> {
    if (stopController.signal.aborted) throw new StartupError(`${options.name} is stopping`);
    const server = opts.tls
      ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert }, handle)
      : http.createServer(handle);
    try {
      server.listen(opts.port, opts.host);
      await once(server, 'listening');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const where = `${opts.host ?? '*'}:${opts.port}`;
      const how = opts.setting === undefined ? '' : ` (set with ${opts.setting})`;
      if (code === 'EADDRINUSE') throw new StartupError(`${options.name}: port ${opts.port} is already in use${how}`);
      if (code === 'EACCES') throw new StartupError(`${options.name}: no permission to listen on ${where}${how}`);
      if (code === 'EADDRNOTAVAIL')
        throw new StartupError(`${options.name}: address ${where} is not available here${how}`);
      throw err;
    }
    servers.push(server);
    const port = (server.address() as AddressInfo).port;
    const protocol = opts.tls ? 'https' : 'http';
    const endpoint: Endpoint = { protocol, port, url: `${protocol}://localhost:${port}` };
    endpoints.push(endpoint);
    log.info({ url: endpoint.url }, 'listening');
    return endpoint;
  }

  async function withTimeout(work: Promise<void>, ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    try {
      return await Promise.race([work.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function doStop(): Promise<void> {
    stopController.abort();
    log.info('stopping');
    // close() stops accepting and resolves once every connection has ended. A connection whose response was already
    // under way when shutdown began turns idle when it finishes (keep-alive), so idle ones are closed until all end;
    // polling costs nothing per request, unlike tracking every response.
    const closed = Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections();
          }),
      ),
    ).then(() => undefined);
    const sweeper = setInterval(() => {
      for (const s of servers) s.closeIdleConnections();
    }, 25);
    try {
      if (!(await withTimeout(closed, options.drainTimeoutMs ?? 10_000))) {
        log.warn('drain timed out; closing remaining connections');
        for (const s of servers) s.closeAllConnections();
        await closed;
      }
    } finally {
      clearInterval(sweeper);
    }
    for (const { name, hook } of hooks.reverse()) {
      try {
        const done = await withTimeout(Promise.resolve().then(hook), options.hookTimeoutMs ?? 5000);
        if (!done) log.warn({ hook: name }, 'shutdown hook timed out');
      } catch (err) {
        log.error({ err, hook: name }, 'shutdown hook failed');
      }
    }
    log.info('stopped');
  }

  return {
    name: options.name,
    app,
    health,
    log,
    stopping: stopController.signal,
    endpoints,
    leanRoute: (route) => {
      leanRoutes.push(route);
    },
    restrictHealthDetails: (allowed) => {
      detailsAllowed = allowed;
    },
    onShutdown: (name, hook) => {
      hooks.push({ name, hook });
    },
    listen,
    stop: () => (stopPromise ??= doStop()),
  };
}
