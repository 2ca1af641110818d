// Spring Cloud Gateway's actuator endpoint: GET /actuator/gateway/routes, GET|POST|DELETE …/routes/{id},
// POST /actuator/gateway/refresh. Changes swap the route table whole; connections and requests under way are kept.
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { Hono, type Context } from 'hono';
import { GatewayError } from '../errors.ts';
import { readRouteDefinition, type ComponentDefinition } from '../routing/definition.ts';
import type { RouteManager } from '../routing/manager.ts';
import type { Route } from '../routing/table.ts';
import { readRouteBody } from './route-body.ts';
import { ROUTE_ID_PATTERN } from './route-schemas.ts';

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

const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });
const ERROR = json('Error');
/** What every call may answer besides its own: the credential refused, or its source locked out. */
const GUARDED: OpenApiOperation['responses'] = {
  401: { $ref: '#/components/responses/Unauthorized' },
  429: { $ref: '#/components/responses/TooManyRequests' },
};
const CHANGE: OpenApiOperation['responses'] = { ...GUARDED, 403: { $ref: '#/components/responses/Forbidden' } };
const WORKERS_409 =
  'the route is defined in the routes file or on the config server, or the gateway runs several --workers';
const ROUTE_ID = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'the route id: letters, digits, ".", ":", "_" or "-"',
  schema: { type: 'string', pattern: ROUTE_ID_PATTERN },
} satisfies NonNullable<OpenApiOperation['parameters']>[number];
/** The gateway's screen refuses some paths before any route (proxied or its own) sees them; an id can make one. */
const SCREENED_PATH = {
  description:
    'the path is refused before routing: an id with an encoded control character, slash, backslash, percent sign or semicolon',
  content: ERROR,
};
const SECURED = (): Pick<OpenApiOperation, 'tags' | 'security'> => ({
  tags: ['gateway'],
  security: [{ adminAuth: [] }],
});
/** Links that let a client (and the stateful fuzzer) go on from a route it named to reading and deleting it. */
const ROUTE_LINKS = {
  GetRoute: { operationId: 'getRoute', parameters: { id: '$request.path.id' } },
  DeleteRoute: { operationId: 'deleteRoute', parameters: { id: '$request.path.id' } },
};

const OPERATIONS: Record<'list' | 'get' | 'put' | 'delete' | 'refresh', OpenApiOperation> = {
  list: {
    ...SECURED(),
    operationId: 'listRoutes',
    summary: 'The routes in force, in the order they are tried',
    responses: {
      200: {
        description: 'every route of the table, whatever its source',
        content: {
          'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/RouteSummary' } } },
        },
        links: {
          GetFirstRoute: { operationId: 'getRoute', parameters: { id: '$response.body#/0/route_id' } },
          DeleteFirstRoute: { operationId: 'deleteRoute', parameters: { id: '$response.body#/0/route_id' } },
        },
      },
      ...GUARDED,
    },
  },
  get: {
    ...SECURED(),
    operationId: 'getRoute',
    summary: "One route's definition and source",
    parameters: [ROUTE_ID],
    responses: {
      200: {
        description: 'the route',
        content: json('StoredRoute'),
        links: {
          Refresh: { operationId: 'refreshRoutes' },
          DeleteRoute: ROUTE_LINKS.DeleteRoute,
        },
      },
      400: SCREENED_PATH,
      404: { description: 'no route has this id', content: ERROR },
      ...GUARDED,
    },
  },
  put: {
    ...SECURED(),
    operationId: 'createRoute',
    summary: 'Creates or replaces a route (kept across refreshes, in memory as Spring keeps it)',
    parameters: [ROUTE_ID],
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: { $ref: '#/components/schemas/RouteDefinitionInput' },
          example: { uri: 'http://127.0.0.1:8081', predicates: ['Path=/echo/**'], filters: ['StripPrefix=1'] },
        },
      },
    },
    responses: {
      200: { description: 'replaced', content: json('RouteDefinition'), links: ROUTE_LINKS },
      201: { description: 'created', content: json('RouteDefinition'), links: ROUTE_LINKS },
      400: {
        description:
          'the definition is not one the gateway can run (the message says why); the body is not UTF-8, has a NUL ' +
          `character or a lone surrogate in a value, or a key twice in one object; or ${SCREENED_PATH.description}`,
        content: ERROR,
      },
      409: { description: `${WORKERS_409}, or the table holds --max-routes routes`, content: ERROR },
      413: { description: 'the body is over 64 KiB (or --max-request-size)', content: ERROR },
      415: { description: 'the body is not application/json', content: ERROR },
      ...CHANGE,
    },
  },
  delete: {
    ...SECURED(),
    operationId: 'deleteRoute',
    summary: 'Deletes a route created through this API',
    parameters: [ROUTE_ID],
    responses: {
      200: { description: 'deleted' },
      400: SCREENED_PATH,
      404: { description: 'no route has this id', content: ERROR },
      409: { description: WORKERS_409, content: ERROR },
      ...CHANGE,
    },
  },
  refresh: {
    ...SECURED(),
    operationId: 'refreshRoutes',
    summary: 'Rereads --routes-file and the config server; routes made through this API stay',
    responses: {
      200: {
        description: 'the table now in force',
        content: {
          'application/json': {
            schema: { type: 'object', required: ['routes'], properties: { routes: { type: 'integer', minimum: 0 } } },
          },
        },
        links: { ListRoutes: { operationId: 'listRoutes' } },
      },
      400: { description: 'a source holds a route that cannot work; the routes in force stay', content: ERROR },
      ...CHANGE,
    },
  },
};

export function gatewayRoutes(deps: GatewayRoutesDeps): Hono<KitEnv> {
  const { manager } = deps;
  const app = new Hono<KitEnv>();
  app.use(async (c, next) => {
    await deps.authorize(c);
    await next();
  });
  app.get(
    '/routes',
    documented(OPERATIONS.list, (c) => c.json(manager.table.routes.map((r) => summary(r, manager)))),
  );
  app.get(
    '/routes/:id',
    documented(OPERATIONS.get, (c) => {
      const id = c.req.param('id') ?? '';
      const route = manager.table.get(id);
      if (route === undefined) throw new GatewayError('unknown_route', `there is no route ${id}`);
      return c.json({ ...route.definition, uri: maskUri(route.definition.uri), source: manager.originOf(route.id) });
    }),
  );
  const perWorker = (): void => {
    if ((deps.workers ?? 1) > 1) {
      throw new GatewayError(
        'route_conflict',
        `the gateway runs ${deps.workers} worker processes (--workers), each with its own route table, and this call would change one of them: ` +
          'change routes in --routes-file or on the config server instead (POST /actuator/gateway/refresh reaches every worker)',
      );
    }
  };
  app.post(
    '/routes/:id',
    documented(OPERATIONS.put, async (c) => {
      perWorker();
      // JSON only: a page of any site may post text/plain or a form without a CORS preflight.
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        throw new GatewayError(
          'unsupported_media_type',
          'a route definition is sent as application/json (Content-Type: application/json)',
        );
      }
      const body = readRouteBody(await c.req.arrayBuffer());
      const definition = readRouteDefinition(body, c.req.param('id') ?? '');
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
    }),
  );
  app.delete(
    '/routes/:id',
    documented(OPERATIONS.delete, (c) => {
      perWorker();
      const id = c.req.param('id') ?? '';
      manager.delete(id);
      c.var.log.info({ route: id }, 'route deleted');
      return c.body(null, 200);
    }),
  );
  app.post(
    '/refresh',
    documented(OPERATIONS.refresh, async (c) => {
      const table = await manager.refresh();
      deps.refreshed?.();
      c.var.log.info({ routes: table.routes.length }, 'routes refreshed');
      return c.json({ routes: table.routes.length });
    }),
  );
  return app;
}
