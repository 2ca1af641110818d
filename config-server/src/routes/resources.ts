import { Hono } from 'hono';
import type { KitEnv } from '@trellis/clients';
import { isUnrestricted, type ConfigClient } from '../access/clients.ts';
import { mergeSources, resolvePlaceholders } from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';

const PROPERTY_FILE = /\.(ya?ml|properties)$/;

function checkPath(path: string): string {
  const segments = path.split('/');
  if (segments.some((s) => s === '' || s === '.' || s.includes('..') || s.includes('#') || s.includes('\\'))) {
    throw new ConfigServerError('invalid_request', 'Invalid Request: resource path must not contain "..", "#" or "\\"');
  }
  return segments.join('/');
}

/**
 * A client limited to some applications must not read another application's property file as a "plain resource"
 * (Spring has no such check, since it has no per-application access).
 */
function mayReadFile(client: ConfigClient | undefined, path: string): boolean {
  if (client === undefined || isUnrestricted(client)) return true;
  const file = path.slice(path.lastIndexOf('/') + 1);
  if (!PROPERTY_FILE.test(file)) return true;
  const stem = file.replace(PROPERTY_FILE, '');
  return [...client.applications, 'application'].some((a) => stem === a || stem.startsWith(`${a}-`));
}

/** `GET /{name}/{profile}/{label}/{path}`: a plain file from the repository, placeholders resolved in text. */
export function resourceRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  app.get('/:name/:profiles/:label/:path{.+}', async (c) => {
    const request = environmentRequest(c.req.param('name'), c.req.param('profiles'), c.req.param('label'));
    const path = checkPath(
      c.req
        .param('path')
        .split('/')
        .map((s) => s.split('(_)').join('/'))
        .join('/'),
    );
    const client = deps.guard(c, { applications: request.applications });
    if (!mayReadFile(client, path)) {
      throw new ConfigServerError('forbidden', `client ${client?.id ?? ''} may not read ${path}`);
    }
    const bytes = await deps.backend.findResource({
      application: request.applications.join(','),
      profiles: request.profiles,
      ...(request.label === undefined ? {} : { label: request.label }),
      path,
    });
    const headers = { 'cache-control': 'no-store' };
    if (bytes.includes(0)) {
      return c.newResponse(new Uint8Array(bytes), 200, { ...headers, 'content-type': 'application/octet-stream' });
    }
    let text = bytes.toString('utf8');
    if (c.req.query('resolvePlaceholders') !== 'false' && text.includes('${')) {
      const merged = mergeSources((await deps.environments.find(request)).propertySources);
      text = resolvePlaceholders(text, (k) => merged.get(k));
    }
    return c.newResponse(text, 200, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
  });
  return app;
}
