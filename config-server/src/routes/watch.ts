import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { KitEnv } from '@trellis/clients';
import type { View } from '../access/ownership.ts';
import {
  changedKeys,
  mergeSources,
  resolveAll,
  type EnvironmentRequest,
  type PropertyValue,
} from '../environment/index.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';

interface Snapshot {
  readonly version: string | null;
  readonly values: ReadonlyMap<string, PropertyValue>;
}

/**
 * `GET /watch/{name}/{profiles}[/{label}]`: Server-Sent Events. First `ready` with the current version, then a
 * `change` event `{version, changed}` whenever a source of this environment changes. Key names only: values (and
 * so decrypted secrets) never travel on the stream; clients fetch the environment again.
 */
export function watchRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();

  async function snapshot(request: EnvironmentRequest, view: View | undefined): Promise<Snapshot> {
    // Compared before decryption: a changed ciphertext is a changed key, and no plaintext is held per stream. Only
    // the client's own documents count, so another application's key names never reach its stream.
    const env = await deps.environments.find(request, view, { decrypt: false });
    return { version: env.version, values: resolveAll(mergeSources(env.propertySources)) };
  }

  const handle = async (c: Context<KitEnv>, label?: string): Promise<Response> => {
    const request = environmentRequest(c.req.param('name') ?? '', c.req.param('profiles') ?? '', label);
    const view = deps.ownership.viewOf(deps.guard(c, { applications: request.applications }));
    // Before the stream starts, so an unknown label is still a plain 404.
    let current = await snapshot(request, view);
    c.header('cache-control', 'no-store');
    return streamSSE(c, async (stream) => {
      let chain = Promise.resolve();
      const onChange = (): void => {
        // Serialized so two quick edits are compared in order, each against the state the client last heard.
        chain = chain
          .then(async () => {
            const next = await snapshot(request, view);
            const changed = changedKeys(current.values, next.values);
            if (changed.length === 0 && next.version === current.version) return;
            current = next;
            await stream.writeSSE({ event: 'change', data: JSON.stringify({ version: next.version, changed }) });
          })
          .catch((err: unknown) => c.var.log.warn({ err }, 'watch update failed'));
      };
      const unsubscribe = deps.backend.subscribe(onChange);
      await stream.writeSSE({ event: 'ready', data: JSON.stringify({ version: current.version }) });
      const heartbeat = setInterval(() => {
        void stream.write(': keep-alive\n\n').catch(() => undefined);
      }, deps.heartbeatMs);
      await new Promise<void>((resolve) => {
        if (deps.stopping.aborted) resolve();
        deps.stopping.addEventListener('abort', () => resolve(), { once: true });
        stream.onAbort(() => resolve());
        // hono notices a gone client only on the next write; the socket's close event tells at once.
        c.req.raw.signal.addEventListener('abort', () => resolve(), { once: true });
        c.env?.outgoing?.once('close', () => resolve());
      });
      clearInterval(heartbeat);
      unsubscribe();
    });
  };
  app.get('/watch/:name/:profiles', (c) => handle(c));
  app.get('/watch/:name/:profiles/:label', (c) => handle(c, c.req.param('label')));
  return app;
}
