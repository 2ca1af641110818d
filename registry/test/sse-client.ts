// A minimal Server-Sent Events client over node:http for the socket tests: collects events and comments, and lets a
// test wait for the next one.
import http from 'node:http';
import { createService, type Service } from '@trellis/kit';
import { createApp } from '../src/app.ts';
import type { AppDeps } from '../src/app.ts';
import { Registry } from '../src/registry/registry.ts';
import { silentLogger } from './helpers.ts';

export interface ReceivedEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
  readonly receivedAt: number;
}

export interface WatchClient {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly events: ReceivedEvent[];
  readonly comments: string[];
  /** Resolves with the first event (from the start) that matches, waiting up to timeoutMs. */
  next(predicate: (e: ReceivedEvent) => boolean, timeoutMs?: number): Promise<ReceivedEvent>;
  waitForComment(timeoutMs?: number): Promise<string>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

export function openWatch(
  url: string,
  headers: Record<string, string> = {},
  localAddress?: string,
): Promise<WatchClient> {
  return new Promise((resolve, reject) => {
    const options = {
      headers: { accept: 'text/event-stream', ...headers },
      ...(localAddress === undefined ? {} : { localAddress }),
    };
    const req = http.get(url, options, (res) => {
      res.setEncoding('utf8');
      const events: ReceivedEvent[] = [];
      const comments: string[] = [];
      const waiters = new Set<() => void>();
      const notify = (): void => {
        for (const w of [...waiters]) w();
      };
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let id: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line);
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ event, id, data: data.join('\n'), receivedAt: performance.now() });
        }
        notify();
      });
      const ended = new Promise<void>((done) => {
        res.on('end', done);
        res.on('close', done);
      });
      const waitFor = <T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
        new Promise((found, fail) => {
          const check = (): void => {
            const hit = find();
            if (hit === undefined) return;
            clearTimeout(timer);
            waiters.delete(check);
            found(hit);
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            fail(new Error(`no ${what} within ${timeoutMs} ms`));
          }, timeoutMs);
          waiters.add(check);
          check();
        });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        comments,
        next: (predicate, timeoutMs = 2000) => waitFor(() => events.find(predicate), timeoutMs, 'matching event'),
        waitForComment: (timeoutMs = 2000) => waitFor(() => comments[0], timeoutMs, 'comment'),
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

/** Change listeners the app itself holds (the response cache), so a test can tell a stream's own apart. */
export const BASELINE_LISTENERS = 1;

export interface WatchedRegistry {
  readonly registry: Registry;
  readonly service: Service;
  readonly base: string;
  readonly port: number;
  /** Opens a watch stream, closed by `stop()`; from `localAddress` (another loopback address) when given. */
  readonly watch: (path?: string, localAddress?: string) => Promise<WatchClient>;
  /** Closes the streams this registry's tests opened, then the server. */
  readonly stop: () => Promise<void>;
}

/** A registry app on a loopback socket, for the watch stream tests. */
export async function serveWatched(
  options: Partial<Omit<AppDeps, 'registry' | 'stopping'>> = {},
): Promise<WatchedRegistry> {
  const registry = new Registry();
  const service = createService({ name: 'registry', logger: silentLogger(), git: false, drainTimeoutMs: 2000 });
  service.app.route('/', createApp({ registry, stopping: service.stopping, ...options }));
  const endpoint = await service.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${endpoint.port}`;
  const clients: WatchClient[] = [];
  return {
    registry,
    service,
    base,
    port: endpoint.port,
    watch: async (path = '/eureka/watch', localAddress?: string) => {
      const client = await openWatch(base + path, {}, localAddress);
      clients.push(client);
      return client;
    },
    stop: async () => {
      for (const c of clients.splice(0)) c.close();
      await service.stop();
    },
  };
}
