// The actuator endpoints (health, its groups and components, info) as app routes; the probes on the node request.
import type http from 'node:http';
import type { Context, Hono } from 'hono';
import { httpStatusOf, type Health, type HealthGroup, type HealthRegistry } from './health.ts';
import { json, type KitEnv } from './hono-app.ts';
import { readGitInfo, type GitInfo } from './info.ts';
import type { Logger } from './logger.ts';
import { chosenRequestId, requestIdFor } from './request-log.ts';
import type { Metrics } from './observability/metrics.ts';
import { isInternalAddress } from './trusted-proxies.ts';
import { setRequestRoute } from './observability/server.ts';
import { documented, type OpenApiOperation, type OpenApiSchema } from './openapi.ts';

export interface ActuatorOptions {
  readonly name: string;
  readonly version?: string | undefined;
  readonly description?: string | undefined;
  readonly health: HealthRegistry;
  readonly log: Logger;
  /** Extra `/actuator/info` content. Git details are read from the working directory unless `false`. */
  readonly info?: Readonly<Record<string, unknown>> | undefined;
  readonly git?: GitInfo | false | undefined;
  /** Who sees health details; default `never`. */
  readonly showDetails?: HealthShowDetails | undefined;
  /** The service's meters, served at `/actuator/prometheus`; no such route without them. */
  readonly metrics?: Metrics | undefined;
}

/**
 * Who sees health details (components, paths, broker addresses, errors), with Spring Boot's names for
 * `management.endpoint.health.show-details`: `never` (the default) answers the status alone, `always` everything,
 * `when-authorized` everything to the requests the service's policy admits (Service.restrictHealthDetails) and each
 * component's status without details to the others. The HTTP status is the same for every caller.
 */
export type HealthShowDetails = 'never' | 'always' | 'when-authorized';

export const HEALTH_SHOW_DETAILS: readonly HealthShowDetails[] = ['never', 'always', 'when-authorized'];

/** Who may see health details, by the request's headers. */
export type DetailsPolicy = (header: (name: string) => string | undefined) => boolean;

export interface Actuator {
  /** Answers a health probe on the node request; false when the request is no probe (the app serves it). */
  answerProbe(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /** See Service.restrictHealthDetails. */
  restrictDetails(allowed: DetailsPolicy): void;
}

/** The health endpoints and the group each reports (undefined: every component). */
const PROBES: ReadonlyMap<string, HealthGroup | undefined> = new Map([
  ['/actuator/health', undefined],
  ['/actuator/health/liveness', 'liveness'],
  ['/actuator/health/readiness', 'readiness'],
]);

/** A node request's header by name (the first, when sent twice). */
function headerOf(req: http.IncomingMessage): (name: string) => string | undefined {
  return (name) => {
    const value = req.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
}

const noHeaders = (): undefined => undefined;

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

/**
 * Whether a request comes from the deployment's own network directly: a loopback or private peer, with no proxy's
 * forwarding header (a request through the gateway or a load balancer comes from a private address too). In-process
 * requests (tests' `app.request`) have no socket and count as inside.
 */
function fromInsideNetwork(c: Context<KitEnv>): boolean {
  const incoming = (c.env as Partial<KitEnv['Bindings']> | undefined)?.incoming;
  if (incoming === undefined) return true;
  const peer = incoming.socket.remoteAddress;
  return (
    peer !== undefined &&
    isInternalAddress(peer) &&
    FORWARDING_HEADERS.every((name) => incoming.headers[name] === undefined)
  );
}

/** The quality an Accept header gives a media type (`type/subtype`), 0 when it names it not. */
function qualityOf(accept: string, type: string): number {
  for (const part of accept.split(',')) {
    const [name = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    if (name !== type) continue;
    const q = params.find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    return Number.isFinite(value) ? value : 0;
  }
  return 0;
}

/** OpenMetrics when the scraper ranks it at least as high as the text format (Prometheus asks for it first). */
function prefersOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  const open = qualityOf(accept, 'application/openmetrics-text');
  return open > 0 && open >= qualityOf(accept, 'text/plain');
}

const HEALTH_SCHEMA: OpenApiSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', description: 'UP, DOWN, OUT_OF_SERVICE, UNKNOWN or a custom status' },
    components: { type: 'object', additionalProperties: { type: 'object' } },
    details: { type: 'object' },
  },
};
const HEALTH_RESPONSES = {
  200: { description: 'up', content: { 'application/json': { schema: HEALTH_SCHEMA } } },
  503: { description: 'down or out of service', content: { 'application/json': { schema: HEALTH_SCHEMA } } },
};
const HEALTH_OPERATION: OpenApiOperation = {
  tags: ['actuator'],
  summary: "The service's health (Spring Boot's /actuator/health); details as --health-show-details allows",
  responses: HEALTH_RESPONSES,
};
const HEALTH_COMPONENT_OPERATION: OpenApiOperation = {
  tags: ['actuator'],
  summary: 'A health group (liveness, readiness) or one component',
  parameters: [{ name: 'component', in: 'path', required: true, schema: { type: 'string' }, example: 'readiness' }],
  responses: { ...HEALTH_RESPONSES, 404: { description: 'no such group or component' } },
};
const INFO_OPERATION: OpenApiOperation = {
  tags: ['actuator'],
  summary: "Name, version and git details (Spring Boot's /actuator/info)",
  responses: { 200: { description: 'info', content: { 'application/json': { schema: { type: 'object' } } } } },
};
const PROMETHEUS_OPERATION: OpenApiOperation = {
  tags: ['actuator'],
  summary: 'Meters in the Prometheus text format or OpenMetrics (--prometheus-access decides who may scrape)',
  responses: {
    200: { description: 'meters', content: { 'text/plain': { schema: { type: 'string' } } } },
    403: { description: 'asked from outside the internal network, or through a proxy' },
  },
};

/** Adds the actuator routes to `app`; what it returns answers the probes on the node request. */
export function mountActuator(app: Hono<KitEnv>, options: ActuatorOptions): Actuator {
  const { health, log } = options;
  const git = options.git === false ? undefined : (options.git ?? readGitInfo());
  const showDetails = options.showDetails ?? 'never';
  let detailsAllowed: DetailsPolicy | undefined;
  // Made once per aggregate: the registry hands back the same object while nothing changed.
  const statuses = new WeakMap<Health, Health>();
  const statusOf = (h: Health): Health => {
    let status = statuses.get(h);
    if (status === undefined) {
      status = { status: h.status };
      statuses.set(h, status);
    }
    return status;
  };
  // when-authorized shows the others each component's status without its details (Spring's show-components: always).
  const summaries = new WeakMap<Health, Health>();
  const summaryOf = (h: Health): Health => {
    let summary = summaries.get(h);
    if (summary === undefined) {
      summary =
        h.components === undefined
          ? statusOf(h)
          : {
              status: h.status,
              components: Object.fromEntries(Object.entries(h.components).map(([k, v]) => [k, summaryOf(v)])),
            };
      summaries.set(h, summary);
    }
    return summary;
  };
  const visible = (h: Health, header: (name: string) => string | undefined): Health => {
    if (showDetails === 'always') return h;
    if (showDetails === 'never') return statusOf(h);
    let allowed = false;
    try {
      allowed = detailsAllowed?.(header) === true;
    } catch (err) {
      log.error({ err }, 'health details check failed');
    }
    return allowed ? h : summaryOf(h);
  };
  // Only when-authorized reads the request's headers: the probes make no closure otherwise.
  const probeView = (h: Health, req: http.IncomingMessage): Health =>
    visible(h, showDetails === 'when-authorized' ? headerOf(req) : noHeaders);
  const renderHealth = (c: Context<KitEnv>, h: Health): Response =>
    json(
      c,
      httpStatusOf(h.status),
      visible(h, (name) => c.req.header(name)),
    );
  app.get(
    '/actuator/health',
    documented(HEALTH_OPERATION, async (c) => renderHealth(c, await health.check())),
  );
  // One parameterised route for the groups and the components: a literal segment beside a parameter at the same
  // place (`/health/liveness` and `/health/:component`) makes hono fall back from its one-regular-expression router to
  // its trie router for every route of the service, which costs microseconds on every request of a large API.
  app.get(
    '/actuator/health/:component',
    documented(HEALTH_COMPONENT_OPERATION, async (c) => {
      const name = c.req.param('component') ?? '';
      const path = `/actuator/health/${name}`;
      if (PROBES.has(path)) return renderHealth(c, await health.check(PROBES.get(path)));
      const h = await health.checkOne(name);
      return h === undefined ? c.notFound() : renderHealth(c, h);
    }),
  );
  const info = {
    app: { name: options.name, version: options.version ?? '0.0.0', description: options.description },
    ...(git === undefined ? {} : { git }),
    ...options.info,
  };
  app.get(
    '/actuator/info',
    documented(INFO_OPERATION, (c) => json(c, 200, info)),
  );
  const metrics = options.metrics;
  if (metrics !== undefined) {
    app.get(
      '/actuator/prometheus',
      documented(PROMETHEUS_OPERATION, async (c) => {
        c.set('requestLogLevel', 'debug');
        if (metrics.access === 'internal' && !fromInsideNetwork(c)) {
          return json(c, 403, {
            error: 'forbidden',
            message:
              '/actuator/prometheus answers scrapers on loopback or a private network, not through a proxy (--prometheus-access any opens it)',
          });
        }
        const { contentType, body } = await metrics.render(prefersOpenMetrics(c.req.header('accept')));
        return c.body(body, 200, { 'content-type': contentType });
      }),
    );
  }

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
  // Orchestrators and load balancers poll the probes constantly: they are answered here, from the same health
  // registry as the routes above, without the framework's per-request cost. No closure is made on the synchronous
  // path: tsx names every closure it creates (a defineProperty each).
  const answerProbe = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (req.method !== 'GET' || req.url === undefined || !PROBES.has(req.url)) return false;
    const requestId = chosenRequestId(req) ?? requestIdFor(req.headers['x-request-id']);
    setRequestRoute(req, req.url);
    try {
      const h = health.evaluate(PROBES.get(req.url));
      if (h instanceof Promise) {
        h.then(
          (r) => sendProbe(probeView(r, req), requestId, res),
          (err: unknown) => probeFailed(err, res),
        );
      } else {
        sendProbe(probeView(h, req), requestId, res);
      }
    } catch (err) {
      probeFailed(err, res);
    }
    return true;
  };
  return {
    answerProbe,
    restrictDetails: (allowed) => {
      detailsAllowed = allowed;
    },
  };
}
