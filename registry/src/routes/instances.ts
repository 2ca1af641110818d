// GET /instances/{ID}: an instance found by id alone, whatever its application.
import { documented, type KitEnv } from '@trellis/kit';
import { badRequest, guarded, instanceResponse, notFound, pathParameter, readSecurity } from '../api-docs.ts';
import { Hono } from 'hono';
import { renderInstance } from '../eureka/index.ts';
import { RegistryError } from '../errors.ts';
import { sendRendered } from '../http/negotiate.ts';
import { idParam, paths } from '../http/params.ts';
import type { RouteDeps } from './deps.ts';

export function instancesRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  app.on(
    'GET',
    paths('/instances/:id'),
    documented(
      guarded(readSecurity(deps.access), {
        summary: 'One instance, found by id alone',
        tags: ['eureka'],
        parameters: [pathParameter('id')],
        responses: {
          200: instanceResponse('the instance'),
          ...badRequest('not an instance id'),
          ...notFound('no such instance'),
        },
      }),
      (c) => {
        const instance = deps.registry.instanceById(idParam(c));
        if (instance === undefined) throw new RegistryError('unknown_instance', 'Unknown instance');
        return sendRendered(c, 200, (format) => renderInstance(instance, { format }));
      },
    ),
  );
  return app;
}
