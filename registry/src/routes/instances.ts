// GET /instances/{ID}: an instance found by id alone, whatever its application.
import type { KitEnv } from '@trellis/kit';
import { Hono } from 'hono';
import { renderInstance } from '../eureka/index.ts';
import { RegistryError } from '../errors.ts';
import { sendRendered } from '../http/negotiate.ts';
import { idParam, paths } from '../http/params.ts';
import type { RouteDeps } from './deps.ts';

export function instancesRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  app.on('GET', paths('/instances/:id'), (c) => {
    const instance = deps.registry.instanceById(idParam(c));
    if (instance === undefined) throw new RegistryError('unknown_instance', 'Unknown instance');
    return sendRendered(c, 200, (format) => renderInstance(instance, { format }));
  });
  return app;
}
