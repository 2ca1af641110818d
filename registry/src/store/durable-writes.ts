// A write request is acknowledged only when what it changed reached the store: the store is written synchronously
// while the request's handler runs (persistence.ts), so a failed write (disk full, I/O error) is known before the
// answer goes out, and the 2xx becomes a 503 the client retries. Without this a full disk acknowledged every
// registration with 204 and a restart lost them all.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { KitEnv } from '@trellis/kit';
import type { MiddlewareHandler } from 'hono';

/** Seconds a client is told to wait before trying the write again. */
const RETRY_AFTER_SECS = 5;

export interface DurableWrites {
  /** Wraps every write request; mount it before the routes. */
  readonly middleware: MiddlewareHandler<KitEnv>;
  /** Called by the persistence when a change could not be stored; marks the request that made it, if any. */
  readonly failed: () => void;
}

/**
 * Answers 503 with Retry-After instead of 2xx to a request whose change could not be stored. The change stays in
 * memory (served and replicated, as in a Eureka server without a store) until the client's retry stores it or its
 * lease runs out.
 * @example const durable = durableWrites(); persistRegistry({ registry, store, log, onWriteFailed: durable.failed }); app.use(durable.middleware);
 */
export function durableWrites(): DurableWrites {
  const requests = new AsyncLocalStorage<{ failed: boolean }>();
  return {
    middleware: async (c, next) => {
      if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next();
      const request = { failed: false };
      await requests.run(request, next);
      if (!request.failed || c.res.status >= 300) return;
      c.res = undefined;
      c.res = c.text('The registry could not store the change; try again', 503, {
        'retry-after': String(RETRY_AFTER_SECS),
      });
    },
    failed: () => {
      const request = requests.getStore();
      if (request !== undefined) request.failed = true;
    },
  };
}
