// The route API's OpenAPI components: Spring Cloud Gateway's RouteDefinition as its actuator endpoint carries it.
import type { ApiDocsOptions, Credential, OpenApiSchema } from '@trellis/kit';
import { ORDER_TEXT, ROUTE_ID } from '../routing/definition.ts';
import { FILTER_NAMES } from '../routing/filters.ts';
import { PREDICATE_NAMES } from '../routing/predicates.ts';

/** The path parameter's pattern: the ids readRouteDefinition takes. */
export const ROUTE_ID_PATTERN = ROUTE_ID.source;

const escape = (name: string): string => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `Name=arg1,arg2` or `{name, args}` for the factories named: what a route's predicate or filter list holds. */
function componentSchema(kind: string, names: readonly string[]): OpenApiSchema {
  return {
    oneOf: [
      {
        type: 'string',
        description: `shortcut form: \`Name=arg1,arg2\`, the ${kind} factory's arguments in order`,
        pattern: `^\\s*(${names.map(escape).join('|')})\\s*(=[\\s\\S]*)?$`,
        examples: kind === 'predicate' ? ['Path=/echo/**'] : ['StripPrefix=1'],
      },
      {
        type: 'object',
        description: `expanded form; shortcut arguments are args _genkey_0, _genkey_1, … as Spring names them`,
        required: ['name'],
        properties: {
          name: { type: 'string', enum: [...names] },
          args: {
            description:
              'arguments by name (camelCase or kebab-case), or one scalar for a one-argument factory; null is none',
          },
        },
      },
    ],
  };
}

/** A predicate or filter as the route list shows it: the shortcut when its arguments were positional. */
const LISTED_COMPONENT: OpenApiSchema = {
  oneOf: [
    { type: 'string' },
    {
      type: 'object',
      required: ['name', 'args'],
      properties: { name: { type: 'string' }, args: { type: 'object' } },
    },
  ],
};

const STORED_COMPONENT: OpenApiSchema = {
  type: 'object',
  required: ['name', 'args'],
  properties: { name: { type: 'string' }, args: { type: 'object' } },
};

const SOURCE: OpenApiSchema = {
  type: 'string',
  enum: ['file', 'config', 'api'],
  description: 'where the route comes from: --routes-file, the config server, or this API (only these can be deleted)',
};

/** Schemas, responses and the security scheme of the route API, for createService's `apiDocs.components`. */
export function routeApiComponents(credential: Credential): NonNullable<ApiDocsOptions['components']> {
  return {
    securitySchemes: {
      adminAuth: {
        type: 'http',
        scheme: credential.scheme,
        description:
          'the --admin-auth (GATEWAY_ADMIN_AUTH) credential; ten wrong ones from one address lock it out (429)',
      },
    },
    schemas: {
      RouteDefinitionInput: {
        type: 'object',
        description:
          "Spring Cloud Gateway's RouteDefinition. The path names the route (a body id is ignored); unknown keys are ignored. " +
          "Each factory checks its own arguments: a definition it refuses (a Path pattern not starting with '/', a regex " +
          'that could backtrack) answers 400 naming the route and the part, as Spring answers. The body is UTF-8 JSON ' +
          'with no key twice in one object and no NUL character or lone surrogate in any string (400 otherwise).',
        required: ['uri'],
        properties: {
          id: { description: 'ignored: the path names the route' },
          uri: {
            type: 'string',
            minLength: 1,
            description: 'http(s)://host[:port], ws(s)://…, lb://service (through the registry) or lb:ws://service',
            examples: ['http://127.0.0.1:8081'],
          },
          order: {
            description: 'lower runs first; default 0',
            oneOf: [
              { type: 'integer', minimum: Number.MIN_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER },
              { type: 'string', pattern: ORDER_TEXT.source },
              { type: 'null' },
            ],
          },
          predicates: {
            type: ['array', 'null'],
            items: componentSchema('predicate', PREDICATE_NAMES),
          },
          filters: { type: ['array', 'null'], items: componentSchema('filter', FILTER_NAMES) },
          metadata: {
            type: ['object', 'null'],
            description:
              'response-timeout, connect-timeout (durations: 500, 500ms, 10s, PT10S), cors, and your own keys',
          },
        },
      },
      RouteDefinition: {
        type: 'object',
        required: ['id', 'uri', 'order', 'predicates', 'filters', 'metadata'],
        properties: {
          id: { type: 'string' },
          uri: { type: 'string', description: 'user info (a password) shown as ****' },
          order: { type: 'integer' },
          predicates: { type: 'array', items: STORED_COMPONENT },
          filters: { type: 'array', items: STORED_COMPONENT },
          metadata: { type: 'object' },
        },
      },
      StoredRoute: {
        allOf: [
          { $ref: '#/components/schemas/RouteDefinition' },
          { type: 'object', required: ['source'], properties: { source: SOURCE } },
        ],
      },
      RouteSummary: {
        type: 'object',
        required: ['route_id', 'uri', 'order', 'predicates', 'filters', 'metadata', 'source'],
        properties: {
          route_id: { type: 'string' },
          uri: { type: 'string', description: 'user info (a password) shown as ****' },
          order: { type: 'integer' },
          predicates: { type: 'array', items: LISTED_COMPONENT },
          filters: { type: 'array', items: LISTED_COMPONENT },
          metadata: { type: 'object' },
          source: SOURCE,
        },
      },
      Error: {
        type: 'object',
        required: ['error', 'message'],
        properties: {
          error: { type: 'string', description: 'a code: invalid_route, unknown_route, route_conflict, …' },
          message: { type: 'string', description: 'the reason, naming the route and the part' },
        },
      },
    },
    responses: {
      Unauthorized: {
        description: 'no or a wrong --admin-auth credential',
        headers: { 'WWW-Authenticate': { schema: { type: 'string' } } },
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
      Forbidden: {
        description: 'a change sent from a page of another site (Origin, Sec-Fetch-Site)',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
      TooManyRequests: {
        description: 'too many wrong credentials from this address: locked out for Retry-After seconds',
        headers: { 'Retry-After': { schema: { type: 'integer' } } },
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      },
    },
  };
}
