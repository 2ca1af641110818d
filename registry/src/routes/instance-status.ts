// /apps/{APP}/{ID}/status: set (PUT ?value=) or remove (DELETE) an operator's status override, e.g. taking an
// instance OUT_OF_SERVICE without stopping it. Heartbeats keep the override; only DELETE or a cancel removes it.
import type { KitEnv } from '@trellis/kit';
import { Hono } from 'hono';
import { RegistryError } from '../errors.ts';
import { isReplication } from '../http/negotiate.ts';
import { appParam, dirtyTimestampQuery, idParam, paths, statusQuery } from '../http/params.ts';
import type { RouteDeps } from './deps.ts';
import { answer } from './instance.ts';
import { deleteStatusOverride, setStatus } from './instance-operations.ts';

export function instanceStatusRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry, limits } = deps;
  const app = new Hono<KitEnv>();

  app.on('PUT', paths('/apps/:app/:id/status'), (c) => {
    const status = statusQuery(c, 'value');
    if (status === undefined) {
      throw new RegistryError('invalid_request', 'Missing value: expected ?value=UP|DOWN|STARTING|OUT_OF_SERVICE');
    }
    const lastDirtyTimestamp = dirtyTimestampQuery(c, limits, registry.now());
    const replicated = isReplication(c);
    const result = setStatus(registry, appParam(c), idParam(c), status, { lastDirtyTimestamp, replicated });
    if (result.statusCode === 200) {
      c.var.log.info({ app: appParam(c), id: idParam(c), status, replicated }, 'status override set');
    }
    return answer(c, result);
  });

  app.on('DELETE', paths('/apps/:app/:id/status'), (c) => {
    const status = statusQuery(c, 'value');
    const lastDirtyTimestamp = dirtyTimestampQuery(c, limits, registry.now());
    const replicated = isReplication(c);
    const result = deleteStatusOverride(registry, appParam(c), idParam(c), { status, lastDirtyTimestamp, replicated });
    if (result.statusCode === 200) {
      c.var.log.info({ app: appParam(c), id: idParam(c), replicated }, 'status override removed');
    }
    return answer(c, result);
  });

  return app;
}
