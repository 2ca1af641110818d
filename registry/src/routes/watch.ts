// GET /watch: the registry as a Server-Sent Events stream (beyond Eureka). The discovery client depends on this exact
// wire format:
//   event: snapshot  id: <version>  data: <GET /apps JSON>
//   event: change    id: <version>  data: {"action","instance","versionsDelta","appsHashCode"}
//   ": ping" comments every watchPingMs.
// A stream ends when the service stops, when the client goes away, or when the client falls too far behind (it then
// reconnects and starts again from a snapshot); each way unsubscribes its listener.
import type { KitEnv } from '@trellis/clients';
import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { SSEStreamingApi } from 'hono/streaming';
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
  app.on('GET', paths('/watch'), (c) => {
    if (deps.stopping.aborted) throw new RegistryError('unavailable', 'The registry is stopping');
    const release = deps.streams.take(c);
    c.header('x-accel-buffering', 'no');
    const socket = (c.env as { outgoing?: { destroy(): void } } | undefined)?.outgoing;
    return streamSSE(c, async (stream) => {
      try {
        await pump(stream, deps, frameOf, () => socket?.destroy());
      } finally {
        release();
      }
    });
  });
  return app;
}

async function pump(
  stream: SSEStreamingApi,
  deps: RouteDeps,
  frameOf: (c: RegistryChange) => string,
  destroySocket: () => void,
): Promise<void> {
  const { registry, stopping } = deps;
  const queue: string[] = [];
  let overflow = false;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  // Subscribing and taking the snapshot happen in one synchronous step, so no change can fall between them.
  const version = registry.version;
  const snapshot = deps.cache.appsJson();
  const unsubscribe = registry.onChange((change) => {
    if (change.version <= version) return;
    if (queue.length >= deps.watchMaxQueued) overflow = true;
    else queue.push(frameOf(change));
    signal();
  });
  const ping = setInterval(() => {
    queue.push(': ping\n\n');
    signal();
  }, deps.watchPingMs);
  // A write waits for the client to read. One that goes away, or stops reading (its socket buffers full), must not
  // hold the stream, its slot and its listener for ever: a write waits until the stream is cut, at most
  // watchWriteTimeoutMs, and then the socket is closed.
  let cutNow: () => void = () => undefined;
  const cutDone = new Promise<void>((resolve) => {
    cutNow = resolve;
  });
  const ended = (): void => {
    cutNow();
    signal();
  };
  const cut = (): void => {
    stream.abort();
    destroySocket();
    ended();
  };
  const send = async (text: string): Promise<void> => {
    const timer = setTimeout(cut, deps.watchWriteTimeoutMs);
    try {
      await Promise.race([stream.write(text), cutDone]);
    } finally {
      clearTimeout(timer);
    }
  };
  // On shutdown the stream is cut at once, even mid-write to a slow client, so it never holds up the drain.
  const stop = (): void => {
    stream.abort();
    ended();
  };
  stopping.addEventListener('abort', stop);
  stream.onAbort(ended);
  try {
    await send(`event: snapshot\nid: ${version}\ndata: ${snapshot}\n\n`);
    while (!stream.aborted && !stopping.aborted && !overflow) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const chunk = queue.join('');
      queue.length = 0;
      await send(chunk);
    }
  } finally {
    unsubscribe();
    clearInterval(ping);
    stopping.removeEventListener('abort', stop);
  }
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
