// PUT /apps/{APP}/{ID}/metadata?key=value…: merges every query parameter into the instance's metadata.
import { documented, type KitEnv, type OpenApiSchema } from '@trellis/kit';
import { TEXT, badRequest, guarded, parameter, notFound, pathParameter, tooLarge, writeSecurity } from '../api-docs.ts';
import { Hono } from 'hono';
import { metadataProblem } from '../eureka/index.ts';
import { limitError, RegistryError } from '../errors.ts';
import { isReplication } from '../http/negotiate.ts';
import { appParam, idParam, paths, queryEntries } from '../http/params.ts';
import { metadataViolation } from '../registry/limits.ts';
import type { RouteDeps } from './deps.ts';

export function instanceMetadataRoutes(deps: RouteDeps): Hono<KitEnv> {
  const { registry, limits } = deps;
  const app = new Hono<KitEnv>();
  app.on(
    'PUT',
    paths('/apps/:app/:id/metadata'),
    documented(
      guarded(writeSecurity(deps.access), {
        summary: "Merge every query parameter into the instance's metadata",
        tags: ['eureka'],
        parameters: [
          pathParameter('app'),
          pathParameter('id'),
          parameter({
            name: 'entries',
            in: 'query',
            style: 'form',
            explode: true,
            description: 'each key=value pair is an entry; a key is given once',
            schema: {
              type: 'object',
              maxProperties: limits.maxMetadataEntries,
              // Keys as patternProperties: schemathesis generates query keys from these, not from propertyNames.
              patternProperties: { [TEXT.pattern ?? '']: TEXT },
              additionalProperties: false,
            } as OpenApiSchema,
          }),
        ],
        responses: {
          200: {
            description: 'merged (empty body)',
            links: {
              cancel: {
                operationRef: '#/paths/~1eureka~1apps~1{app}~1{id}/delete',
                parameters: { app: '$request.path.app', id: '$request.path.id' },
              },
            },
          },
          ...badRequest('a bad name, a repeated key, or a key or value with a control character'),
          ...notFound('no such instance'),
          ...tooLarge(
            `metadata over ${limits.maxMetadataEntries} entries or ${limits.maxMetadataBytes} bytes once merged`,
          ),
        },
      }),
      (c) => {
        const entries = queryEntries(c);
        // What the XML and JSON answers could not carry is refused here as at registration.
        const badText = metadataProblem(entries);
        if (badText !== undefined) throw new RegistryError('invalid_request', badText);
        const current = registry.instance(appParam(c), idParam(c));
        if (current === undefined) return c.body(null, 404);
        // The merged map is what would be held, so that is what the ceilings apply to.
        const violation = metadataViolation({ ...current.metadata, ...entries }, limits);
        if (violation !== undefined) throw limitError(violation);
        const done = registry.updateMetadata(appParam(c), idParam(c), entries, { replicated: isReplication(c) });
        return c.body(null, done ? 200 : 404);
      },
    ),
  );
  return app;
}
