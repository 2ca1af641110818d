// PUT /apps/{APP}/{ID}/metadata?key=value…: merges every query parameter into the instance's metadata.
import type { KitEnv } from '@trellis/clients';
import { Hono } from 'hono';
import { isReplication } from '../http/negotiate.ts';
import { appParam, idParam, paths, queryEntries } from '../http/params.ts';
import type { RouteDeps } from './deps.ts';

export function instanceMetadataRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry } = deps;
  const app = new Hono<KitEnv>();
  app.on('PUT', paths('/apps/:app/:id/metadata'), (c) => {
    const done = registry.updateMetadata(appParam(c), idParam(c), queryEntries(c), { replicated: isReplication(c) });
    return c.body(null, done ? 200 : 404);
  });
  return app;
}
