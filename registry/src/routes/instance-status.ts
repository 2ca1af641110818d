// /apps/{APP}/{ID}/status: set (PUT ?value=) or remove (DELETE) an operator's status override, e.g. taking an
// instance OUT_OF_SERVICE without stopping it. Heartbeats keep the override; only DELETE or a cancel removes it.
import { documented, type KitEnv } from '@trellis/kit';
import {
  badRequest,
  dirtyTimestampParameter,
  guarded,
  instanceResponse,
  notFound,
  pathParameter,
  statusParameter,
  writeSecurity,
} from '../api-docs.ts';
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

  const write = writeSecurity(deps.access);
  const instancePath = [pathParameter('app'), pathParameter('id')];
  const responses = {
    ...badRequest('a bad name, status or lastDirtyTimestamp (also one from the future)'),
    ...notFound('no such instance'),
    409: instanceResponse("a replicated change older than this registry's copy, which is sent back"),
  };
  app.on(
    'PUT',
    paths('/apps/:app/:id/status'),
    documented(
      guarded(write, {
        summary: "Set an operator's status override",
        description:
          'e.g. OUT_OF_SERVICE, to take an instance out of rotation without stopping it; heartbeats keep it.',
        tags: ['eureka'],
        parameters: [...instancePath, statusParameter('value', 'the status', true), dirtyTimestampParameter(limits)],
        responses: {
          200: {
            description: 'set (empty body)',
            links: {
              metadata: {
                operationRef: '#/paths/~1eureka~1apps~1{app}~1{id}~1metadata/put',
                parameters: { app: '$request.path.app', id: '$request.path.id' },
              },
            },
          },
          ...responses,
        },
      }),
      (c) => {
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
      },
    ),
  );

  app.on(
    'DELETE',
    paths('/apps/:app/:id/status'),
    documented(
      guarded(write, {
        summary: "Remove an operator's status override",
        tags: ['eureka'],
        parameters: [
          ...instancePath,
          statusParameter('value', 'the status the instance takes meanwhile (default: UNKNOWN)'),
          dirtyTimestampParameter(limits),
        ],
        responses: { 200: { description: 'removed (empty body)' }, ...responses },
      }),
      (c) => {
        const status = statusQuery(c, 'value');
        const lastDirtyTimestamp = dirtyTimestampQuery(c, limits, registry.now());
        const replicated = isReplication(c);
        const result = deleteStatusOverride(registry, appParam(c), idParam(c), {
          status,
          lastDirtyTimestamp,
          replicated,
        });
        if (result.statusCode === 200) {
          c.var.log.info({ app: appParam(c), id: idParam(c), replicated }, 'status override removed');
        }
        return answer(c, result);
      },
    ),
  );

  return app;
}
