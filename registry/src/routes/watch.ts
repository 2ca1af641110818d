// GET /watch: the registry as a Server-Sent Events stream (beyond Eureka). The discovery client depends on this exact
// wire format:
//   event: snapshot  id: <version>  data: <GET /apps JSON>
//   event: change    id: <version>  data: {"action","instance","versionsDelta","appsHashCode"}
//   ": ping" comments every watchPingMs.
// A stream ends when the service stops, when the client goes away, or when the client falls too far behind (it then
// reconnects and starts again from a snapshot); each way unsubscribes its listener.
import { documented, pumpEvents, type KitEnv } from '@trellis/kit';
import { eventStream, guarded, readSecurity, streamsFull } from '../api-docs.ts';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { instanceJson } from '../eureka/render.ts';
import { RegistryError } from '../errors.ts';
import { paths } from '../http/params.ts';
import type { RegistryChange } from '../registry/events.ts';
import type { RouteDeps } from './deps.ts';

export function watchRoutes(deps: RouteDeps): Hono<KitEnv> {
  const app = new Hono<KitEnv>();
  // Every watcher gets the same text for a change; render it once.
  let last: { version: number; frame: string } | undefined;
  const frameOf = (change: RegistryChange): string => {
    if (last?.version !== change.version) last = { version: change.version, frame: changeFrame(change) };
    return last.frame;
  };
  const operation = guarded(readSecurity(deps.access), {
    summary: 'The registry as a Server-Sent Events stream',
    description:
      'A `snapshot` event (data: the GET /apps JSON) then one `change` event per change (data: action, instance, versionsDelta, appsHashCode), `: ping` comments between. The stream does not end by itself.',
    tags: ['watch'],
    responses: {
      200: eventStream('the event stream (id: the registry version)', ['snapshot', 'change'], {
        type: 'string',
        contentMediaType: 'application/json',
      }),
      ...streamsFull,
    },
  });
  app.on(
    'GET',
    paths('/watch'),
    documented(operation, (c) => {
      if (deps.stopping.aborted) throw new RegistryError('unavailable', 'The registry is stopping');
      const release = deps.streams.take(c);
      c.header('x-accel-buffering', 'no');
      const socket = (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing;
      return streamSSE(c, async (stream) => {
        try {
          // A write waits for the client to read: one that stops reading is cut after watchWriteTimeoutMs and its
          // socket closed; one that reads but falls watchMaxQueued changes behind has its stream ended (cleanly, so it
          // starts again from a snapshot); shutdown cuts every stream at once, even mid-write.
          await pumpEvents(
            stream,
            {
              writeTimeoutMs: deps.watchWriteTimeoutMs,
              pingMs: deps.watchPingMs,
              ping: ': ping\n\n',
              maxQueued: deps.watchMaxQueued,
              overflow: 'end',
              stopping: deps.stopping,
              destroySocket: () => socket?.destroy(),
            },
            (sink) => {
              // Subscribing and taking the snapshot happen in one synchronous step, so no change can fall between them.
              const version = deps.registry.version;
              sink.push(`event: snapshot\nid: ${version}\ndata: ${deps.cache.appsJson()}\n\n`);
              return deps.registry.onChange((change) => {
                if (change.version > version) sink.push(frameOf(change));
              });
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

function changeFrame(change: RegistryChange): string {
  const data = JSON.stringify({
    action: change.action,
    instance: instanceJson(change.instance),
    versionsDelta: String(change.version),
    appsHashCode: change.appsHashCode,
  });
  return `event: change\nid: ${change.version}\ndata: ${data}\n\n`;
}
