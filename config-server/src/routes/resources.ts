// Plain files of the repository as text, Spring's ResourceController: the resource path's checks and the one route.
import { Hono } from 'hono';
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { forbiddenInPath, MAX_NAME_LENGTH, mergeSources, resolvePlaceholders } from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';
import {
  errorResponses,
  labelParam,
  nameParam,
  profilesParam,
  RESOURCE_PATH_SCHEMA,
  resolvePlaceholdersParam,
  securedBy,
} from './openapi.ts';

/** Why a segment of a resource path names no file of the repository; undefined when it may. */
function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'must not have empty segments';
  if (segment === '.') return 'must not have "." segments';
  return forbiddenInPath(segment);
}

function checkPath(path: string): string {
  const segments = path.split('/');
  const problem = segments.map(segmentProblem).find((p) => p !== undefined);
  if (problem !== undefined) {
    throw new ConfigServerError('invalid_request', `Invalid Request: resource path ${problem}`);
  }
  if (segments.some((s) => s.length > MAX_NAME_LENGTH)) {
    throw new ConfigServerError(
      'invalid_request',
      `Invalid Request: resource path segments must be at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  return segments.join('/');
}

/** `GET /{name}/{profile}/{label}/{path}`: a plain file from the repository, placeholders resolved in text. */
export function resourceRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const operation: OpenApiOperation = {
    summary: 'A plain file of the repository',
    description: 'Text with ${…} placeholders resolved from the environment; a file holding NUL bytes as it is.',
    tags: ['resources'],
    parameters: [
      nameParam(),
      profilesParam(),
      labelParam(),
      { name: 'path', in: 'path' as const, required: true, schema: RESOURCE_PATH_SCHEMA, example: 'nginx.conf' },
      resolvePlaceholdersParam,
    ],
    ...securedBy(deps.security),
    responses: {
      200: {
        description: 'the file',
        content: {
          'text/plain': { schema: { type: 'string' } },
          'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
        },
      },
      ...errorResponses([400, 403, 404, 503], deps.security !== undefined),
    },
  };
  app.get(
    '/:name/:profiles/:label/:path{.+}',
    documented(operation, async (c) => {
      const request = environmentRequest(
        c.req.param('name') ?? '',
        c.req.param('profiles') ?? '',
        c.req.param('label') ?? '',
      );
      const path = checkPath(
        (c.req.param('path') ?? '')
          .split('/')
          .map((s) => s.split('(_)').join('/'))
          .join('/'),
      );
      const client = deps.guard(c, { applications: request.applications });
      const view = deps.ownership.viewOf(client);
      // Decided on the URL alone first, for a clear refusal that tells nothing about what the repository holds; the
      // backend then checks each file it would actually read (a profile variant may be another application's).
      if (view !== undefined && !view.admits({ file: path })) {
        throw new ConfigServerError(
          'forbidden',
          `client ${client?.id ?? ''} may not read ${path}: it is not a file of its applications or of application`,
        );
      }
      const bytes = await deps.backend.findResource({
        application: request.applications.join(','),
        profiles: request.profiles,
        ...(request.label === undefined ? {} : { label: request.label }),
        path,
        ...(view === undefined ? {} : { admits: (file: string) => view.admits({ file }) }),
      });
      const headers = { 'cache-control': 'no-store' };
      if (bytes.includes(0)) {
        return c.newResponse(new Uint8Array(bytes), 200, { ...headers, 'content-type': 'application/octet-stream' });
      }
      let text = bytes.toString('utf8');
      if (c.req.query('resolvePlaceholders') !== 'false' && text.includes('${')) {
        const merged = mergeSources((await deps.environments.find(request, view)).propertySources);
        text = resolvePlaceholders(text, (k) => merged.get(k));
      }
      return c.newResponse(text, 200, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
    }),
  );
  return app;
}
