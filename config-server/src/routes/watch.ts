// Watch streams (beyond Spring's wire): Server-Sent Events naming the keys that changed in an environment.
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { documented, pumpEvents, type KitEnv, type OpenApiOperation, type StreamSlots } from '@trellis/kit';
import type { View } from '../access/ownership.ts';
import {
  changedKeys,
  mergeSources,
  resolveAll,
  type EnvironmentRequest,
  type PropertyValue,
} from '../environment/index.ts';
import { ConfigServerError } from '../errors.ts';
import { environmentRequest, type RouteDeps } from './deps.ts';
import { errorResponses, labelParam, nameParam, profilesParam, securedBy } from './openapi.ts';

interface Snapshot {
  readonly version: string | null;
  readonly values: ReadonlyMap<string, PropertyValue>;
}

/** What a refused stream is told to wait; the config client polls the environment meanwhile. */
export const WATCH_RETRY_AFTER_SECS = 30;

/** Change frames queued for one slow reader before it is cut (each is a few key names; it reconnects). */
const MAX_QUEUED = 64;

export interface WatchLimits {
  /** The open streams, capped in total and per credential (or per address when the server is open). */
  readonly slots: StreamSlots;
  /** A write the client has not taken after this long cuts its stream. */
  readonly writeTimeoutMs: number;
}

type NodeEnv =
  { outgoing?: { readonly destroyed: boolean; destroy(): void; once(e: 'close', f: () => void): void } } | undefined;

/**
 * `GET /watch/{name}/{profiles}[/{label}]`: Server-Sent Events. First `ready` with the current version, then a
 * `change` event `{version, changed}` whenever a source of this environment changes. Key names only: values (and
 * so decrypted secrets) never travel on the stream; clients fetch the environment again.
 */
export function watchRoutes(deps: RouteDeps, limits: WatchLimits): Hono<KitEnv> {
  const app = new Hono<KitEnv>();

  async function snapshot(request: EnvironmentRequest, view: View | undefined): Promise<Snapshot> {
    // Compared before decryption: a changed ciphertext is a changed key, and no plaintext is held per stream. Only
    // the client's own documents count, so another application's key names never reach its stream.
    const env = await deps.environments.find(request, view, { decrypt: false });
    return { version: env.version, values: resolveAll(mergeSources(env.propertySources)) };
  }

  const handle = async (c: Context<KitEnv>, label?: string): Promise<Response> => {
    const request = environmentRequest(c.req.param('name') ?? '', c.req.param('profiles') ?? '', label);
    const client = deps.guard(c, { applications: request.applications });
    if (deps.stopping.aborted) throw new ConfigServerError('unavailable', 'the config server is stopping');
    const view = deps.ownership.viewOf(client);
    const env = c.env as NodeEnv;
    // A credential's share, or an address's when the server is open; behind a proxy that is the proxy's address.
    const caller =
      client !== undefined
        ? `client:${client.id}`
        : `address:${(c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress ?? ''}`;
    const slot = limits.slots.take(caller);
    if (!slot.ok) {
      throw new ConfigServerError(
        'unavailable',
        `${slot.reason}; retry in ${WATCH_RETRY_AFTER_SECS} s, and fetch the environment meanwhile`,
        { retryAfterSecs: WATCH_RETRY_AFTER_SECS },
      );
    }
    let current: Snapshot;
    try {
      // Before the stream starts, so an unknown label is still a plain 404.
      current = await snapshot(request, view);
    } catch (err) {
      slot.release();
      throw err;
    }
    c.header('cache-control', 'no-store');
    c.header('x-accel-buffering', 'no');
    return streamSSE(c, async (stream) => {
      try {
        await pumpEvents(
          stream,
          {
            writeTimeoutMs: limits.writeTimeoutMs,
            pingMs: deps.heartbeatMs,
            maxQueued: MAX_QUEUED,
            stopping: deps.stopping,
            destroySocket: () => env?.outgoing?.destroy(),
          },
          (sink) => {
            let chain = Promise.resolve();
            const onChange = (): void => {
              // Serialized so two quick edits are compared in order, each against the state the client last heard.
              chain = chain
                .then(async () => {
                  if (sink.ended) return;
                  const next = await snapshot(request, view);
                  const changed = changedKeys(current.values, next.values);
                  if (changed.length === 0 && next.version === current.version) return;
                  current = next;
                  sink.push(`event: change\ndata: ${JSON.stringify({ version: next.version, changed })}\n\n`);
                })
                .catch((err: unknown) => c.var.log.warn({ err }, 'watch update failed'));
            };
            const unsubscribe = deps.backend.subscribe(onChange);
            sink.push(`event: ready\ndata: ${JSON.stringify({ version: current.version })}\n\n`);
            // hono notices a gone client only on the next write; the socket's close event tells at once.
            env?.outgoing?.once('close', () => sink.end());
            // Gone before the listener was added: the close event has already been and will not come again.
            if (env?.outgoing?.destroyed === true) sink.end();
            return unsubscribe;
          },
        );
      } finally {
        slot.release();
      }
    });
  };
  const operation = (withLabel: boolean): OpenApiOperation => ({
    summary: withLabel ? "Watch an environment's changes at a label" : "Watch an environment's changes",
    description:
      'Server-Sent Events: `ready` {version}, then `change` {version, changed: [key names]} on every change of ' +
      'its sources; values never travel on the stream. Comment lines keep idle streams open.',
    tags: ['watch'],
    parameters: [nameParam(), profilesParam(), ...(withLabel ? [labelParam()] : [])],
    ...securedBy(deps.security),
    responses: {
      200: { description: 'the event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
      ...errorResponses([400, 403, 404, 503], deps.security !== undefined),
    },
  });
  app.get(
    '/watch/:name/:profiles',
    documented(operation(false), (c) => handle(c)),
  );
  app.get(
    '/watch/:name/:profiles/:label',
    documented(operation(true), (c) => handle(c, c.req.param('label'))),
  );
  return app;
}
