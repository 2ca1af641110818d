// The dashboard's routes: the page at `/` (Eureka's place for it) and at `/eureka/web` (where the gateway serves
// it, so the page works whether the gateway rewrites that path to `/` or passes it through), and its event stream at
// `/eureka/web/events`: one `change` event, carrying the registry version, per burst of changes. The stream is the
// dashboard's own and not the watch stream, which opens with a snapshot of the whole registry the page has no use for.
import { documented, pumpEvents, type KitEnv } from '@trellis/kit';
import { eventStream, guarded, readSecurity, streamsFull, type ApiAccess } from '../api-docs.ts';
import { Hono } from 'hono';
import type { Context, MiddlewareHandler } from 'hono';
import { streamSSE } from 'hono/streaming';
import { RegistryError } from '../errors.ts';
import type { StreamSlots } from '../http/stream-slots.ts';
import { dashboardModel } from './model.ts';
import type { DashboardSources } from './model.ts';
import { DASHBOARD_CSP, renderDashboard } from './page.ts';

export interface DashboardDeps extends DashboardSources {
  readonly stopping: AbortSignal;
  /** Keep-alive comment interval of the event stream. */
  readonly pingMs: number;
  /** Longest a write may wait for the page to read before its stream is cut (the watch stream's). */
  readonly writeTimeoutMs: number;
  /** Shortest time between two change events: a burst of registrations becomes one page refresh. */
  readonly throttleMs?: number;
  /** Access control, on these routes only (a `use` on a sub-app mounted at `/` would cover every path). */
  readonly guard: MiddlewareHandler<KitEnv>;
  /** The open event streams, capped; shared with the watch stream. */
  readonly streams: StreamSlots;
  /** The credentials in force, for what the routes' document says they need. */
  readonly access?: ApiAccess;
}

/** Frames queued for a page that does not read: each is a version number or a ping, so a few dozen is plenty. */
const DASHBOARD_MAX_QUEUED = 64;

export const DASHBOARD_PATHS = ['/', '/eureka/web', '/eureka/web/'] as const;

export function dashboardRoutes(deps: DashboardDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  const security = readSecurity(deps.access ?? {});
  const pageOperation = guarded(security, {
    summary: 'The dashboard',
    description: "Eureka's status page: system status, replicas, instances, general info, recent changes.",
    tags: ['dashboard'],
    responses: { 200: { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } } },
  });
  const page = documented(pageOperation, (c: Context<KitEnv>): Response => {
    c.header('content-security-policy', DASHBOARD_CSP);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    // Always the current state: a cached dashboard would show instances that are gone.
    c.header('cache-control', 'no-store');
    return c.html(renderDashboard(dashboardModel(deps)));
  });
  for (const path of DASHBOARD_PATHS) app.get(path, deps.guard, page);
  const eventsOperation = guarded(security, {
    summary: "The dashboard's change events",
    description:
      'One `change` event (data: the registry version) per burst of changes; the stream does not end by itself.',
    tags: ['dashboard'],
    responses: {
      200: eventStream('the event stream', ['change'], {
        type: 'string',
        pattern: '^[0-9]+$',
        description: 'the registry version',
      }),
      ...streamsFull,
    },
  });
  app.get(
    '/eureka/web/events',
    deps.guard,
    documented(eventsOperation, (c) => {
      if (deps.stopping.aborted) throw new RegistryError('unavailable', 'The registry is stopping');
      const release = deps.streams.take(c);
      c.header('x-accel-buffering', 'no');
      c.header('cache-control', 'no-store');
      const socket = (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing;
      return streamSSE(c, async (stream) => {
        const throttleMs = deps.throttleMs ?? 100;
        try {
          await pumpEvents(
            stream,
            {
              writeTimeoutMs: deps.writeTimeoutMs,
              pingMs: deps.pingMs,
              ping: ': ping\n\n',
              // At most one change event per throttleMs and one ping per pingMs: a page this far behind is not reading.
              maxQueued: DASHBOARD_MAX_QUEUED,
              stopping: deps.stopping,
              destroySocket: () => socket?.destroy(),
            },
            (sink) => {
              sink.push(': connected\n\n');
              let pending = 0;
              let timer: NodeJS.Timeout | undefined;
              const unsubscribe = deps.registry.onChange((change) => {
                pending = change.version;
                timer ??= setTimeout(() => {
                  timer = undefined;
                  sink.push(`event: change\nid: ${pending}\ndata: ${pending}\n\n`);
                }, throttleMs);
              });
              return () => {
                unsubscribe();
                clearTimeout(timer);
              };
            },
          );
        } finally {
          release();
        }
      });
    }),
  );
  return app;
}
