// The merged environment as one .yml, .yaml, .properties or .json file (Spring's `/{name}-{profiles}.yml`).
import { Hono, type Context } from 'hono';
import type { KitEnv } from '@trellis/kit';
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
  app.get(`/${FILE}`, (c) => handle(c));
  app.get(`/:label/${FILE}`, (c) => handle(c, c.req.param('label')));
  return app;
}
