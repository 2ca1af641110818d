// GET /apps and GET /apps/delta: the whole registry and the changes of the last three minutes, both served from
// the response cache (dropped on every change, so never stale).
import type { KitEnv } from '@trellis/clients';
import { Hono } from 'hono';
import { acceptsGzip, sendDocument, wireFormat } from '../http/negotiate.ts';
import { paths } from '../http/params.ts';
import type { RouteDeps } from './deps.ts';

export function appsRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  // Registered before GET /apps/{APP}, which would otherwise take "delta" for an application name.
  app.on('GET', paths('/apps/delta'), (c) => {
    const format = wireFormat(c);
    const gzip = acceptsGzip(c);
    return sendDocument(c, 200, deps.cache.get('delta', format, gzip), format, gzip);
  });
  app.on('GET', paths('/apps'), (c) => {
    const format = wireFormat(c);
    const gzip = acceptsGzip(c);
    return sendDocument(c, 200, deps.cache.get('apps', format, gzip), format, gzip);
  });
  return app;
}
