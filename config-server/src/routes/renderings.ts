// The merged environment as one .yml, .yaml, .properties or .json file (Spring's `/{name}-{profiles}.yml`).
import { Hono, type Context } from 'hono';
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import {
  mergeSources,
  renderJson,
  renderProperties,
  renderYaml,
  resolveAll,
  splitNameAndProfiles,
} from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';
import {
  errorResponses,
  FILE_OR_PROFILES_SCHEMA,
  FILE_SCHEMA,
  NAME_SCHEMA,
  resolvePlaceholdersParam,
  securedBy,
} from './openapi.ts';

// `\x2f` is `/`: a literal one would split the pattern where route paths are split into segments (the API document's).
const FILE = ':file{[^\\x2f]+\\.(?:yml|yaml|properties|json)}';

/**
 * `GET [/{label}]/{name}-{profiles}.yml|yaml|properties|json`: the merged environment as one file, name and profiles
 * split at the last hyphen, placeholders resolved unless `?resolvePlaceholders=false`.
 */
export function renderingRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const handle = async (c: Context<KitEnv>, label?: string): Promise<Response> => {
    const file = c.req.param('file') ?? '';
    const dot = file.lastIndexOf('.');
    const extension = file.slice(dot + 1);
    const split = splitNameAndProfiles(file.slice(0, dot));
    if (split === undefined) {
      throw new ConfigServerError('no_such_resource', 'expected /{name}-{profiles}.' + extension);
    }
    const request = environmentRequest(split.name, split.profiles, label);
    const view = deps.ownership.viewOf(deps.guard(c, { applications: request.applications }));
    const resolve = c.req.query('resolvePlaceholders') !== 'false';
    const { body } = await deps.environments.render(
      request,
      view,
      `${extension}:${resolve ? 'resolved' : 'as-written'}`,
      (env) => {
        const merged = mergeSources(env.propertySources);
        const values = resolve ? resolveAll(merged) : merged;
        switch (extension) {
          case 'json':
            return renderJson(values);
          case 'properties':
            return renderProperties(values);
          default:
            return renderYaml(values);
        }
      },
    );
    return c.newResponse(body, 200, {
      'cache-control': 'no-store',
      'content-type': extension === 'json' ? 'application/json' : 'text/plain; charset=utf-8',
    });
  };
  const operation = (withLabel: boolean): OpenApiOperation => ({
    summary: withLabel ? 'The merged environment as one file, at a label' : 'The merged environment as one file',
    tags: ['renderings'],
    parameters: [
      ...(withLabel
        ? [{ name: 'label', in: 'path' as const, required: true, schema: NAME_SCHEMA, example: 'main' }]
        : []),
      {
        name: 'file',
        in: 'path' as const,
        required: true,
        schema: withLabel ? FILE_OR_PROFILES_SCHEMA : FILE_SCHEMA,
        example: 'product-docker.yml',
      },
      resolvePlaceholdersParam,
    ],
    ...securedBy(deps.security),
    responses: {
      200: {
        description: withLabel
          ? '.yml, .yaml and .properties as text, .json as nested JSON; the environment when {file} is profiles'
          : '.yml, .yaml and .properties as text, .json as nested JSON',
        content: {
          'text/plain': { schema: { type: 'string' } },
          'application/json': { schema: { type: 'object' } },
        },
      },
      ...errorResponses([400, 403, 404, 503], deps.security !== undefined),
    },
  });
  app.get(
    `/${FILE}`,
    documented(operation(false), (c) => handle(c)),
  );
  app.get(
    `/:label/${FILE}`,
    documented(operation(true), (c) => handle(c, c.req.param('label'))),
  );
  return app;
}
