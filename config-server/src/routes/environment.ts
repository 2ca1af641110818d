import { Hono, type Context } from 'hono';
import type { KitEnv } from '@trellis/clients';
import { environmentJson } from '../environment/index.ts';
import { environmentRequest, V2_MEDIA_TYPE, type RouteDeps } from './deps.ts';

/** `GET /{name}/{profiles}[/{label}]`: Spring's Environment JSON, or `{value, origin}` pairs for the v2 type. */
export function environmentRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const handle = async (c: Context<KitEnv>, label?: string): Promise<Response> => {
    const request = environmentRequest(c.req.param('name') ?? '', c.req.param('profiles') ?? '', label);
    deps.guard(c, { applications: request.applications });
    const v2 = (c.req.header('accept') ?? '').includes(V2_MEDIA_TYPE);
    const body = await deps.environments.render(request, v2 ? 'v2' : 'json', (env) =>
      JSON.stringify(environmentJson(env, v2)),
    );
    return c.newResponse(body, 200, {
      'content-type': v2 ? V2_MEDIA_TYPE : 'application/json',
      // Decrypted secrets must not linger in shared caches.
      'cache-control': 'no-store',
    });
  };
  app.get('/:name/:profiles', (c) => handle(c));
  app.get('/:name/:profiles/:label', (c) => handle(c, c.req.param('label')));
  return app;
}
