import { Hono, type Context } from 'hono';
import type { KitEnv } from '@trellis/clients';
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

const FILE = ':file{[^/]+\\.(?:yml|yaml|properties|json)}';

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
    deps.guard(c, { applications: request.applications });
    const env = await deps.environments.find(request);
    const merged = mergeSources(env.propertySources);
    const values = c.req.query('resolvePlaceholders') === 'false' ? merged : resolveAll(merged);
    const headers = { 'cache-control': 'no-store' };
    switch (extension) {
      case 'json':
        return c.newResponse(renderJson(values), 200, { ...headers, 'content-type': 'application/json' });
      case 'properties':
        return c.newResponse(renderProperties(values), 200, {
          ...headers,
          'content-type': 'text/plain; charset=utf-8',
        });
      default:
        return c.newResponse(renderYaml(values), 200, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
    }
  };
  app.get(`/${FILE}`, (c) => handle(c));
  app.get(`/:label/${FILE}`, (c) => handle(c, c.req.param('label')));
  return app;
}
