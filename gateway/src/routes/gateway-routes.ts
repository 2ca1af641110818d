// Spring Cloud Gateway's actuator endpoint: GET /actuator/gateway/routes, GET|POST|DELETE …/routes/{id},
// POST /actuator/gateway/refresh. Changes swap the route table whole; connections and requests under way are kept.
import { isIP } from 'node:net';
import type { KitEnv } from '@trellis/clients';
import { Hono, type Context } from 'hono';
import { GatewayError } from '../errors.ts';
import { readRouteDefinition, type ComponentDefinition } from '../routing/definition.ts';
import type { RouteManager } from '../routing/manager.ts';
import type { Route } from '../routing/table.ts';

export interface GatewayRoutesDeps {
  readonly manager: RouteManager;
  /** Resolves when the caller may read and change routes; rejects with a GatewayError (401 or 403) otherwise. */
  readonly authorize: (c: Context<KitEnv>) => Promise<void>;
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
    uri: route.definition.uri,
    order: route.order,
    predicates: route.definition.predicates.map(shortcut),
    filters: route.definition.filters.map(shortcut),
    metadata: route.definition.metadata,
    source: manager.originOf(route.id),
  };
}

/** Whether a peer address is this machine (loopback); see createApp for who may manage routes. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined || isIP(address) === 0) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
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
    return c.json({ ...route.definition, source: manager.originOf(route.id) });
  });
  app.post('/routes/:id', async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new GatewayError('invalid_route', 'the body must be a JSON route definition {uri, predicates, filters}');
    }
    const definition = readRouteDefinition(body, c.req.param('id'));
    const created = manager.put(definition);
    c.var.log.info({ route: definition.id, created }, 'route saved');
    return c.json(definition, created ? 201 : 200);
  });
  app.delete('/routes/:id', (c) => {
    manager.delete(c.req.param('id'));
    c.var.log.info({ route: c.req.param('id') }, 'route deleted');
    return c.body(null, 200);
  });
  app.post('/refresh', async (c) => {
    const table = await manager.refresh();
    c.var.log.info({ routes: table.routes.length }, 'routes refreshed');
    return c.json({ routes: table.routes.length });
  });
  return app;
}
