// OpenAPI 3.1 documents derived from a service's routes, served at /v3/api-docs with Swagger UI, as springdoc does.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Hono } from 'hono';
import { findTargetHandler } from 'hono/utils/handler';
import type { OpenAPIV3_1 } from 'openapi-types';
import { json, type KitEnv } from './hono-app.ts';

export type OpenApiOperation = OpenAPIV3_1.OperationObject;
export type OpenApiDocument = OpenAPIV3_1.Document;
export type OpenApiSchema = OpenAPIV3_1.SchemaObject;

/** What a handler carries when documented; read when the document is made, never on a request. */
const OPERATION = Symbol('trellis.openapi.operation');

interface Documented {
  [OPERATION]?: OpenApiOperation;
}

/**
 * Attaches `operation` to `handler` and returns the handler itself: the route's document lives beside its code, and
 * serving the route costs nothing more (no describing middleware runs per request). The path and method come from
 * the route the handler is added with, and its path parameters are listed from the path when `operation` leaves them out.
 *
 * @example
 * app.get('/apps/:app', documented({ summary: 'One application', responses: { 200: { description: 'found' } } }, (c) => …));
 */
export function documented<H extends object>(operation: OpenApiOperation, handler: H): H {
  (handler as Documented)[OPERATION] = operation;
  return handler;
}

export interface ApiDocsOptions {
  readonly title: string;
  readonly version: string;
  readonly description?: string | undefined;
  /** Security schemes, shared schemas and responses the operations refer to. */
  readonly components?: OpenAPIV3_1.ComponentsObject | undefined;
  /** Operations served outside the app's routes (an embedded engine's endpoints, interceptors), by path and method. */
  readonly extraPaths?: (() => OpenAPIV3_1.PathsObject) | undefined;
}

const METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE']);

/** Hono's `:name`, `:name{regex}` and `:name?` segments as OpenAPI's `{name}`. */
export function openApiPath(honoPath: string): string {
  return honoPath
    .split('/')
    .map((segment) => {
      const param = /^:([^{?]+)(?:\{.+\})?\??$/.exec(segment);
      return param === null ? segment : `{${param[1]}}`;
    })
    .join('/');
}

/**
 * The app's routes (method and OpenAPI path) that have no operation in `document`: what a test asserts is empty.
 * Middleware (`app.use`, method ALL) and the wildcard routes of mounted middleware are no operations.
 */
export function undocumentedRoutes(app: Hono<KitEnv>, document: OpenApiDocument): string[] {
  const missing = new Set<string>();
  for (const route of app.routes) {
    if (!METHODS.has(route.method) || route.path.includes('*')) continue;
    const p = openApiPath(route.path);
    const item = document.paths?.[p] as Record<string, unknown> | undefined;
    if (item?.[route.method.toLowerCase()] === undefined) missing.add(`${route.method} ${p}`);
  }
  return [...missing];
}

/**
 * The OpenAPI 3.1 document of the app's documented routes, made with hono-openapi (loaded only here: a service that
 * never serves its document does not load it). Routes whose handlers carry no operation are left out; see
 * `undocumentedRoutes`.
 */
export async function apiDocument(app: Hono<KitEnv>, options: ApiDocsOptions): Promise<OpenApiDocument> {
  const { generateSpecs, uniqueSymbol } = await import('hono-openapi');
  for (const route of app.routes) {
    // A sub-app with its own onError is mounted with each handler wrapped; the documented one is inside, and
    // inside is where hono-openapi looks too.
    const handler = findTargetHandler(route.handler) as Documented;
    const operation = handler[OPERATION];
    if (operation !== undefined) {
      // hono-openapi's structure (it clones nothing but the responses), filled in on the copy it reads.
      Object.assign(handler, { [uniqueSymbol]: { spec: structuredClone(operation) } });
    }
  }
  const document = (await generateSpecs(app, {
    documentation: {
      info: { title: options.title, version: options.version, description: options.description },
      components: options.components,
    },
    excludeStaticFile: false,
    defaultValidationErrorResponse: false,
  })) as OpenApiDocument;
  const extra = options.extraPaths?.() ?? {};
  document.paths = { ...document.paths, ...extra };
  if (document.components === undefined || Object.keys(document.components).length === 0) delete document.components;
  if (document.tags === undefined) delete document.tags;
  return document;
}

/** The two Swagger UI files the page loads, served from the swagger-ui-dist package: no CDN, works offline. */
const SWAGGER_ASSETS: ReadonlyMap<string, string> = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
]);

/**
 * The Swagger UI page's headers, as the registry dashboard's and the auth server's pages have them: scripts, styles and
 * fetches from this server only (Swagger UI sets inline styles on its elements, hence 'unsafe-inline' for styles
 * alone), never framed (clickjacking), no sniffing, no referrer.
 */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const SWAGGER_INITIALIZER =
  "window.onload = () => { window.ui = SwaggerUIBundle({ url: '/v3/api-docs', dom_id: '#swagger-ui' }); };\n";

/**
 * Serves `GET /v3/api-docs` (the document, made on its first request) and Swagger UI at
 * `/swagger-ui/index.html` (`/swagger-ui.html` redirects there, springdoc's paths). Mount only where the API docs are
 * enabled: the `--api-docs` setting, off with NODE_ENV=production unless asked for.
 */
export function mountApiDocs(app: Hono<KitEnv>, options: ApiDocsOptions): void {
  // Made once, on the first request: hono takes no route after its first request.
  let made: Promise<OpenApiDocument> | undefined;
  const documentNow = (): Promise<OpenApiDocument> => (made ??= apiDocument(app, options));
  app.get(
    '/v3/api-docs',
    documented(
      {
        summary: "This server's OpenAPI document",
        tags: ['api-docs'],
        responses: {
          200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
        },
      },
      async (c) => json(c, 200, await documentNow()),
    ),
  );
  app.get(
    '/swagger-ui.html',
    documented(
      {
        summary: 'Redirect to Swagger UI',
        tags: ['api-docs'],
        responses: { 302: { description: 'to /swagger-ui/index.html' } },
      },
      (c) => c.redirect('/swagger-ui/index.html', 302),
    ),
  );
  app.get(
    '/swagger-ui/index.html',
    documented(
      {
        summary: 'Swagger UI on this document',
        tags: ['api-docs'],
        responses: { 200: { description: 'HTML page', content: { 'text/html': { schema: { type: 'string' } } } } },
      },
      async (c) => {
        const { swaggerUI } = await import('@hono/swagger-ui');
        for (const [name, value] of Object.entries(PAGE_HEADERS)) c.header(name, value);
        return swaggerUI({
          url: '/v3/api-docs',
          baseUrl: '/swagger-ui',
          title: `${options.title} — Swagger UI`,
          // The page's own markup without @hono/swagger-ui's inline start-up script, which the page's CSP (scripts
          // from this server only) would block: the same start-up comes from /swagger-ui/swagger-initializer.js.
          manuallySwaggerUIHtml: (asset) =>
            [
              '<div id="swagger-ui"></div>',
              ...asset.css.map((href) => `<link rel="stylesheet" href="${href}" />`),
              ...asset.js.map((src) => `<script src="${src}"></script>`),
              '<script src="/swagger-ui/swagger-initializer.js"></script>',
            ].join(''),
        })(c as never, () => Promise.resolve());
      },
    ),
  );
  app.get(
    '/swagger-ui/swagger-initializer.js',
    documented(
      {
        summary: "Swagger UI's start-up script, pointed at /v3/api-docs",
        tags: ['api-docs'],
        responses: {
          200: { description: 'JavaScript', content: { 'text/javascript': { schema: { type: 'string' } } } },
        },
      },
      (c) =>
        c.body(SWAGGER_INITIALIZER, 200, {
          'content-type': 'text/javascript; charset=utf-8',
          'x-content-type-options': 'nosniff',
        }),
    ),
  );
  // @hono/swagger-ui asks for `${baseUrl}/swagger-ui-dist/<file>`.
  app.get(
    '/swagger-ui/swagger-ui-dist/:file',
    documented(
      {
        summary: "Swagger UI's script and style sheet",
        tags: ['api-docs'],
        parameters: [
          { name: 'file', in: 'path', required: true, schema: { type: 'string', enum: [...SWAGGER_ASSETS.keys()] } },
        ],
        responses: { 200: { description: 'the file' }, 404: { description: 'no such file' } },
      },
      async (c) => {
        const file = c.req.param('file') ?? '';
        const type = SWAGGER_ASSETS.get(file);
        if (type === undefined) return json(c, 404, { error: 'not_found', message: `no Swagger UI file ${file}` });
        const body = await readFile(path.join(swaggerUiDirectory(), file));
        return c.body(body, 200, {
          'content-type': type,
          'cache-control': 'public, max-age=86400',
          'x-content-type-options': 'nosniff',
        });
      },
    ),
  );
}

let swaggerDirectory: string | undefined;
/** swagger-ui-dist's directory, found once through node's resolution (its package.json names the files). */
function swaggerUiDirectory(): string {
  swaggerDirectory ??= path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  return swaggerDirectory;
}
