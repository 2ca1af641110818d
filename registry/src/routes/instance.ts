// /apps/{APP}/{ID}: read one instance (GET), heartbeat (PUT), cancel (DELETE).
import type { KitEnv } from '@trellis/clients';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { renderInstance } from '../eureka/index.ts';
import { RegistryError } from '../errors.ts';
import { isReplication, sendRendered } from '../http/negotiate.ts';
import { appParam, idParam, paths, statusQuery, timestampQuery } from '../http/params.ts';
import type { RouteDeps } from './deps.ts';
import { cancel, heartbeat } from './instance-operations.ts';
import type { OperationResult } from './instance-operations.ts';

export function instanceRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry } = deps;
  const app = new Hono<KitEnv>();

  app.on('GET', paths('/apps/:app/:id'), (c) => {
    const instance = registry.instance(appParam(c), idParam(c));
    if (instance === undefined) throw new RegistryError('unknown_instance', 'Unknown instance');
    return sendRendered(c, 200, (format) => renderInstance(instance, { format }));
  });

  // Spring sends ?status=UP&lastDirtyTimestamp=…; eureka-js-client sends nothing. Eureka ignores `status` here;
  // it is still checked, so a bad value is a 400 rather than silently accepted.
  app.on('PUT', paths('/apps/:app/:id'), (c) => {
    const overriddenStatus = statusQuery(c, 'overriddenstatus', 'overriddenStatus');
    statusQuery(c, 'status');
    const lastDirtyTimestamp = timestampQuery(c);
    const result = heartbeat(registry, appParam(c), idParam(c), {
      lastDirtyTimestamp,
      overriddenStatus,
      replicated: isReplication(c),
    });
    return answer(c, result);
  });

  app.on('DELETE', paths('/apps/:app/:id'), (c) => {
    const replicated = isReplication(c);
    const result = cancel(registry, appParam(c), idParam(c), replicated);
    if (result.statusCode === 200) {
      c.var.log.info({ app: appParam(c), id: idParam(c), replicated }, 'instance cancelled');
    }
    return answer(c, result);
  });

  return app;
}

/** 200 and 404 with empty bodies, as Eureka; 409 with the registry's copy for the replica to take. */
export function answer(c: Context<KitEnv>, result: OperationResult): Response {
  if (result.statusCode === 409 && result.instance !== undefined) {
    const instance = result.instance;
    return sendRendered(c, 409, (format) => renderInstance(instance, { format }));
  }
  return c.body(null, result.statusCode);
}
