// The Environment API, `GET /{name}/{profiles}[/{label}]`, on the app and on the kit's lean path.
import { Hono, type Context } from 'hono';
import { documented, type CredentialLimiter, type KitEnv, type LeanRoute, type OpenApiOperation } from '@trellis/kit';
import { mayRead, type AccessControl, type ConfigClient } from '../access/clients.ts';
import { environmentJson, type EnvironmentRequest } from '../environment/index.ts';
import { environmentRequest, V2_MEDIA_TYPE, type RouteDeps } from './deps.ts';
import {
  ENVIRONMENT_PROFILES_SCHEMA,
  errorResponses,
  labelParam,
  nameParam,
  profilesParam,
  securedBy,
} from './openapi.ts';

// Enough for every `{name}/{profiles}[/{label}]` path a landscape reads; the oldest is forgotten first.
const MAX_REMEMBERED = 256;

// Every service fetches its environment at start, on refresh, and (Spring clients) on each config health check: at
// info those lines would be most of the log, as in Spring Cloud Config, which logs fetches at debug. Refusals (401,
// 403) and failures are not fetches and keep their info and error lines.
const FETCH_LOG_LEVEL = 'debug';

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' } as const;
const V2_HEADERS = { 'content-type': V2_MEDIA_TYPE, 'cache-control': 'no-store' } as const;

/**
 * `GET /{name}/{profiles}[/{label}]`: Spring's Environment JSON, or `{value, origin}` pairs for the v2 type; and
 * `lean`, the same answer on the kit's lean path (no framework) for the requests every service repeats.
 */
export function environmentRoutes(
  deps: RouteDeps,
  access: AccessControl | undefined,
  limiter: CredentialLimiter,
): { app: Hono<KitEnv>; lean: LeanRoute } {
  const app = new Hono<KitEnv>();
  // Raw paths this app has routed to the handler below, and what they asked for. The lean path answers only these,
  // so which paths are environments (and not `/encrypt/status` or `/{label}/{file}.yml`) stays the router's call.
  const served = new Map<string, EnvironmentRequest>();
  const handle = async (c: Context<KitEnv>, label?: string): Promise<Response> => {
    const request = environmentRequest(c.req.param('name') ?? '', c.req.param('profiles') ?? '', label);
    const view = deps.ownership.viewOf(deps.guard(c, { applications: request.applications }));
    c.set('requestLogLevel', FETCH_LOG_LEVEL);
    const v2 = (c.req.header('accept') ?? '').includes(V2_MEDIA_TYPE);
    const { body, headers } = await deps.environments.render(request, view, v2 ? 'v2' : 'json', (env) =>
      JSON.stringify(environmentJson(env, v2)),
    );
    // Percent-encoded paths stay on this route: the router decodes them, and the lean path would have to agree.
    if (!c.req.path.includes('%') && !served.has(c.req.path)) {
      served.set(c.req.path, request);
      if (served.size > MAX_REMEMBERED) served.delete(served.keys().next().value ?? '');
    }
    return c.newResponse(body, 200, { ...(v2 ? V2_HEADERS : JSON_HEADERS), ...headers });
  };
  const operation = (withLabel: boolean): OpenApiOperation => ({
    summary: withLabel ? 'The environment at a label' : 'The environment (default label)',
    description:
      "Spring Cloud Config's Environment: property sources, most specific first. With Accept " +
      `${V2_MEDIA_TYPE} each value is {value, origin}.`,
    tags: ['environment'],
    parameters: withLabel
      ? [nameParam(), profilesParam(), labelParam()]
      : [nameParam(), { ...profilesParam(), schema: ENVIRONMENT_PROFILES_SCHEMA }],
    ...securedBy(deps.security),
    responses: {
      200: {
        description: 'the environment',
        content: {
          'application/json': { schema: { $ref: '#/components/schemas/Environment' } },
          [V2_MEDIA_TYPE]: { schema: { $ref: '#/components/schemas/Environment' } },
        },
      },
      ...errorResponses([400, 403, 404, 503], deps.security !== undefined),
    },
  });
  app.get(
    '/:name/:profiles',
    documented(operation(false), (c) => handle(c)),
  );
  app.get(
    '/:name/:profiles/:label',
    documented(operation(true), (c) => handle(c, c.req.param('label'))),
  );

  const lean: LeanRoute = {
    method: 'GET',
    uri: '/{name}/{profiles}',
    answer(req) {
      const request = served.get(req.path);
      if (request === undefined) return undefined;
      let client: ConfigClient | undefined;
      if (access !== undefined) {
        // The lean path sees no address: while anyone is locked out, the app checks (and counts) every credential.
        if (limiter.locksAny()) return undefined;
        client = access.authenticate({
          authorization: req.headers.authorization,
          configToken: single(req.headers['x-config-token']),
        });
        // The app answers refusals, with its challenge and Spring's error body.
        if (client === undefined || !mayRead(client, request.applications)) return undefined;
      }
      const v2 = (req.headers.accept ?? '').includes(V2_MEDIA_TYPE);
      // Undefined when the backend cannot vouch for the kept body without reading: the app reads and renders.
      const kept = deps.environments.peek(request, deps.ownership.viewOf(client), v2 ? 'v2' : 'json');
      if (kept === undefined) return undefined;
      return {
        status: 200,
        headers: { ...(v2 ? V2_HEADERS : JSON_HEADERS), ...kept.headers },
        body: kept.body,
        logLevel: FETCH_LOG_LEVEL,
        // `/name/profiles/label` splits into four parts.
        ...(req.path.split('/').length > 3 ? { uri: '/{name}/{profiles}/{label}' } : {}),
      };
    },
  };
  return { app, lean };
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);
