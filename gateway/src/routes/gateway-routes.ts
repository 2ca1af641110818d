// Spring Cloud Gateway's actuator endpoint: GET /actuator/gateway/routes, GET|POST|DELETE …/routes/{id},
// POST /actuator/gateway/refresh. Changes swap the route table whole; connections and requests under way are kept.
import type { KitEnv } from '@trellis/kit';
import { Hono, type Context } from 'hono';
import { GatewayError } from '../errors.ts';
import { readRouteDefinition, type ComponentDefinition } from '../routing/definition.ts';
import type { RouteManager } from '../routing/manager.ts';
import type { Route } from '../routing/table.ts';

export interface GatewayRoutesDeps {
  readonly manager: RouteManager;
  /** Resolves when the caller may read and change routes; rejects with a GatewayError (401 or 403) otherwise. */
  readonly authorize: (c: Context<KitEnv>) => Promise<void>;
  /** Most routes the table may hold; creating one more answers 409. */
  readonly maxRoutes: number;
  /**
   * The gateway's worker processes (--workers): with more than one, each holds its own table, so creating or deleting
   * a route through one of them answers 409 instead of changing a table the next request may not reach.
   */
  readonly workers?: number | undefined;
  /** Called after a refresh this API made, so the other workers refresh too. */
  readonly refreshed?: (() => void) | undefined;
}

/** Deepest JSON nesting a route definition may have: real ones nest 4 levels; deep ones only cost stack. */
export const MAX_JSON_DEPTH = 32;

/**
 * How deep a JSON text nests, stopping once past `max` (so a body of 60,000 `[` costs one pass, not a parse and the
 * recursion over its result that would overflow the stack).
 */
function nestingOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

/**
 * A route URI as listed: user info (a password, or a token as user name) replaced, since the listing goes to
 * anyone holding the management credential and into their terminals and tickets.
 */
export function maskUri(uri: string): string {
  return uri.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@/, (_, scheme: string, info: string) => {
    const colon = info.indexOf(':');
    return `${scheme}${colon === -1 ? '****' : `${info.slice(0, colon)}:****`}@`;
  });
}

/** `Name=a,b` for a definition given with positional arguments, else `{name, args}` as stored. */
function shortcut(c: ComponentDefinition): string | ComponentDefinition {
  const keys = Object.keys(c.args);
  if (keys.every((k, i) => k === `_genkey_${i}`)) {
    return keys.length === 0 ? c.name : `${c.name}=${keys.map((k) => String(c.args[k])).join(',')}`;
  }
  return c;
}

function summary(route: Route, manager: RouteManager) {
  return {
    route_id: route.id,
    uri: maskUri(route.definition.uri),
    order: route.order,
    predicates: route.definition.predicates.map(shortcut),
    filters: route.definition.filters.map(shortcut),
    metadata: route.definition.metadata,
    source: manager.originOf(route.id),
  };
}

export function gatewayRoutes(deps: GatewayRoutesDeps): Hono<KitEnv> {
  const { manager } = deps;
  const app = new Hono<KitEnv>();
  app.use(async (c, next) => {
    await deps.authorize(c);
    await next();
  });
  app.get('/routes', (c) => c.json(manager.table.routes.map((r) => summary(r, manager))));
  app.get('/routes/:id', (c) => {
    const route = manager.table.get(c.req.param('id'));
    if (route === undefined) throw new GatewayError('unknown_route', `there is no route ${c.req.param('id')}`);
    return c.json({ ...route.definition, uri: maskUri(route.definition.uri), source: manager.originOf(route.id) });
  });
  const perWorker = (): void => {
    if ((deps.workers ?? 1) > 1) {
      throw new GatewayError(
        'route_conflict',
        `the gateway runs ${deps.workers} worker processes (--workers), each with its own route table, and this call would change one of them: ` +
          'change routes in --routes-file or on the config server instead (POST /actuator/gateway/refresh reaches every worker)',
      );
    }
  };
  app.post('/routes/:id', async (c) => {
    perWorker();
    // JSON only: a page of any site may post text/plain or a form without a CORS preflight.
    const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new GatewayError(
        'unsupported_media_type',
        'a route definition is sent as application/json (Content-Type: application/json)',
      );
    }
    // The kit's body limit (the smaller of --max-request-size and 64 KiB) has applied by the time text() resolves.
    const text = await c.req.text();
    if (nestingOver(text, MAX_JSON_DEPTH)) {
      throw new GatewayError('invalid_route', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new GatewayError('invalid_route', 'the body must be a JSON route definition {uri, predicates, filters}');
    }
    const definition = readRouteDefinition(body, c.req.param('id'));
    const count = manager.table.routes.length;
    if (manager.table.get(definition.id) === undefined && count >= deps.maxRoutes) {
      throw new GatewayError(
        'too_many_routes',
        `the gateway holds ${count} routes, as many as --max-routes (GATEWAY_MAX_ROUTES) allows; delete one first`,
      );
    }
    const created = manager.put(definition);
    c.var.log.info({ route: definition.id, created }, 'route saved');
    return c.json({ ...definition, uri: maskUri(definition.uri) }, created ? 201 : 200);
  });
  app.delete('/routes/:id', (c) => {
    perWorker();
    manager.delete(c.req.param('id'));
    c.var.log.info({ route: c.req.param('id') }, 'route deleted');
    return c.body(null, 200);
  });
  app.post('/refresh', async (c) => {
    const table = await manager.refresh();
    deps.refreshed?.();
    c.var.log.info({ routes: table.routes.length }, 'routes refreshed');
    return c.json({ routes: table.routes.length });
  });
  return app;
}
