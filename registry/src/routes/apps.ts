// GET /apps and GET /apps/delta: the whole registry and the changes of the last three minutes, both served from
// the response cache (dropped on every change, so never stale). Every client polls one of them every 30 s, as it
// heartbeats: routine traffic, logged at debug as Eureka does, like the heartbeat.
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { Hono } from 'hono';
import { applicationsResponse, guarded, readSecurity, type ApiAccess } from '../api-docs.ts';
import { acceptsGzip, sendDocument, wireFormat } from '../http/negotiate.ts';
import { paths } from '../http/params.ts';
import type { RouteDeps } from './deps.ts';

export function appsRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  // GET /apps/delta is matched as GET /apps/{APP} and answered here, before the application route (mounted after
  // this one) sees it; as in Eureka, the literal wins over an application named "delta". A literal path beside a
  // parameter at the same place would make hono fall back from its one-regular-expression router to its trie router,
  // a few microseconds more on every request, heartbeats included.
  app.on('GET', paths('/apps/:app'), (c, next) => {
    if (c.req.param('app') !== 'delta') return next();
    const format = wireFormat(c);
    const gzip = acceptsGzip(c);
    c.set('requestLogLevel', 'debug');
    return sendDocument(c, 200, deps.cache.get('delta', format, gzip), format, gzip);
  });
  const security = readSecurity(deps.access);
  app.on(
    'GET',
    paths('/apps'),
    documented(
      guarded(security, {
        summary: 'The whole registry',
        tags: ['eureka'],
        responses: { 200: applicationsResponse('every application with instances') },
      }),
      (c) => {
        const format = wireFormat(c);
        const gzip = acceptsGzip(c);
        c.set('requestLogLevel', 'debug');
        return sendDocument(c, 200, deps.cache.get('apps', format, gzip), format, gzip);
      },
    ),
  );
  return app;
}

/** GET /apps/delta, answered by the /apps/{APP} route above: documented beside the routes as an extra path. */
export function deltaOperation(access: ApiAccess): OpenApiOperation {
  return guarded(readSecurity(access), {
    summary: 'The changes of the last three minutes',
    description: "Each changed instance with its actionType; apps__hashcode is the whole registry's.",
    tags: ['eureka'],
    responses: { 200: applicationsResponse('the recent changes') },
  });
}
