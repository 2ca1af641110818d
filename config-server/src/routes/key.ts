// `GET /key`: the RSA public key as Spring's ssh-rsa line.
import { Hono, type Context } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { ConfigServerError } from '../errors.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';

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
  app.get('/key', (c) => {
    deps.guard(c, 'authenticated');
    return handle(c);
  });
  app.get('/key/:name/:profiles', (c) => {
    const request = environmentRequest(c.req.param('name'), c.req.param('profiles'));
    deps.guard(c, { applications: request.applications });
    return handle(c);
  });
  return app;
}
