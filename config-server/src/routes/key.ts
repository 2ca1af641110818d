// `GET /key`: the RSA public key as Spring's ssh-rsa line.
import { Hono, type Context } from 'hono';
import { documented, type KitEnv, type OpenApiOperation } from '@trellis/kit';
import { ConfigServerError } from '../errors.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';
import { encryptionErrorResponses, errorResponses, nameParam, profilesParam, securedBy } from './openapi.ts';

/** `GET /key[/{name}/{profiles}]`: the RSA public key as Spring's `ssh-rsa … application` line. */
export function keyRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const handle = (c: Context<KitEnv>): Response => {
    let line: string | undefined;
    try {
      line = deps.keys?.sshPublicKey();
    } catch {
      line = undefined;
    }
    if (line === undefined) throw new ConfigServerError('no_public_key', 'No public key available');
    return c.text(line);
  };
  const operation = (forApplication: boolean): OpenApiOperation => ({
    summary: forApplication ? "The RSA public key, for an application's values" : 'The RSA public key',
    tags: ['encryption'],
    ...(forApplication ? { parameters: [nameParam(), profilesParam()] } : {}),
    ...securedBy(deps.security),
    responses: {
      200: {
        description: '`ssh-rsa <base64> application`',
        content: { 'text/plain': { schema: { type: 'string', pattern: '^ssh-rsa ' } } },
      },
      ...encryptionErrorResponses([404], 'NOT_FOUND: no RSA key installed'),
      ...errorResponses(forApplication ? [400, 403] : [], deps.security !== undefined),
    },
  });
  app.get(
    '/key',
    documented(operation(false), (c) => {
      deps.guard(c, 'authenticated');
      return handle(c);
    }),
  );
  app.get(
    '/key/:name/:profiles',
    documented(operation(true), (c) => {
      const request = environmentRequest(c.req.param('name') ?? '', c.req.param('profiles') ?? '');
      deps.guard(c, { applications: request.applications });
      return handle(c);
    }),
  );
  return app;
}
