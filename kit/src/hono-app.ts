// The hono side of a service: the app with request ids, the request line, the body limit, errors and 404s.
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { isClientGone, isTrellisError } from './errors.ts';
import type { Logger } from './logger.ts';
import { setRequestException, setRequestRoute, springTemplate } from './observability/server.ts';
import { chosenRequestId, lazyChild, logCompleted, requestIdFor, type RequestLogLevel } from './request-log.ts';

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

export interface KitAppOptions {
  readonly log: Logger;
  /** Largest request body in bytes; larger ones get 413 before a handler reads them. Default 1 MiB. */
  readonly bodyLimit?: number | undefined;
  /** Renders errors whose shape a protocol fixes (Eureka, Spring, OAuth); return undefined for the default. */
  readonly renderError?: ((err: unknown, c: Context<KitEnv>) => Response | undefined) | undefined;
}

const ACTUATOR = '/actuator/';

/** A JSON answer with any status (hono's types want a literal one). */
export function json(c: Context<KitEnv>, status: number, body: unknown): Response {
  return c.json(body, status as 200);
}

/** The app with the kit's middleware, error rendering and 404s; routes are added to it afterwards. */
export function createKitApp(options: KitAppOptions): Hono<KitEnv> {
  const log = options.log;
  const app = new Hono<KitEnv>();
  const admitBody = bodyAdmission(options.bodyLimit ?? 1024 * 1024);

  app.use(async (c, next) => {
    const started = performance.now();
    // Over a socket the id was chosen and set on the response by the node-level handler (cheaper than a hono
    // header, which turns the response's plain header object into a WHATWG Headers); in-process requests get one here.
    const env: Partial<HttpBindings> | undefined = c.env;
    const incoming = env?.incoming;
    let requestId = incoming === undefined ? undefined : chosenRequestId(incoming);
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
    // The template of the last route that ran; a 404 or 405 that only middleware (`/*`) saw matched no route.
    if (incoming !== undefined) {
      const route = c.req.routePath;
      if (!((status === 404 || status === 405) && route.endsWith('*')))
        setRequestRoute(incoming, springTemplate(route));
    }
    // Probes hit actuator endpoints every few seconds; at info they would drown the log.
    const level =
      status >= 500 ? 'error' : (c.get('requestLogLevel') ?? (c.req.path.startsWith(ACTUATOR) ? 'debug' : 'info'));
    if (!log.isLevelEnabled(level)) return;
    const query = c.req.url.indexOf('?');
    const url = query === -1 ? c.req.path : c.req.path + c.req.url.slice(query);
    logCompleted(log, level, requestId, c.req.method, url, status, started);
  });

  app.onError((err, c) => {
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
    // A client that went away mid-body (a reset, a chunked body never finished) failed its own request: one line at
    // info, not a server error with a stack that any client could repeat at will.
    if (incoming !== undefined && !incoming.complete && isClientGone(err)) {
      c.var.log.info({ error: 'aborted' }, 'client left before its request body arrived');
      return json(c, 400, { error: 'bad_request', message: 'the request body did not arrive whole' });
    }
    if (incoming !== undefined) setRequestException(incoming, err);
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

  app.notFound((c) => {
    const allowed = allowedMethods(app, c.req.path);
    // A route of this method that answered 404 itself (an unknown id) is a 404.
    const served = allowed.includes(c.req.method) || (c.req.method === 'HEAD' && allowed.includes('GET'));
    if (allowed.length > 0 && !served) {
      return c.json(
        {
          error: 'method_not_allowed',
          message: `${c.req.method} is not served at ${c.req.path}; try ${allowed.join(', ')}`,
        },
        405,
        { allow: allowed.join(', ') },
      );
    }
    return json(c, 404, { error: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` });
  });
  return app;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** What hono's router keeps per handler: the handler and the route it came with (method ALL for middleware). */
type Matched = [[unknown, { method: string }], unknown];

/**
 * The methods some route serves at `path`, asked of the app's own router; empty when none does. Only on a miss: an
 * existing path asked with another method answers 405 with Allow (as Spring and Jersey do), not 404.
 */
function allowedMethods(app: Hono<KitEnv>, path: string): string[] {
  const allowed: string[] = [];
  for (const method of METHODS) {
    const [matched] = app.router.match(method, path) as unknown as [Matched[]];
    if (matched.some(([[, route]]) => route.method !== 'ALL')) allowed.push(method);
  }
  return allowed;
}

/**
 * The body limit, without its cost where the framing already tells. Touching `c.req.raw.body` (as hono's bodyLimit
 * does first) makes node-server build a full WHATWG Request with a ReadableStream and an AbortSignal: a third of a
 * small request's cost. GET and HEAD carry no body. Over a socket, node's parser has already framed the request:
 * with neither content-length nor transfer-encoding there is no body, and a content-length alone is exactly what the
 * parser will deliver, so the header decides. Only chunked bodies (and in-process requests) go through the counting
 * middleware.
 */
function bodyAdmission(limit: number): MiddlewareHandler<KitEnv> {
  const tooLarge = (c: Context<KitEnv>): Response =>
    json(c, 413, { error: 'payload_too_large', message: `request body over ${limit} bytes` });
  const limitBody: MiddlewareHandler<KitEnv> = bodyLimit({
    maxSize: limit,
    onError: (c) => tooLarge(c as Context<KitEnv>),
  });
  return (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const headers = (c.env as Partial<HttpBindings> | undefined)?.incoming?.headers;
    if (headers === undefined || headers['transfer-encoding'] !== undefined) return limitBody(c, next);
    const length = headers['content-length'];
    if (length === undefined) return next();
    return Number(length) > limit ? Promise.resolve(tooLarge(c)) : next();
  };
}
