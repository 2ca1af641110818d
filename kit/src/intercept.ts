// Interceptors: what takes a request on the node level before the kit's probes and app, and what they are handed.
import type http from 'node:http';
import type { Logger } from './logger.ts';
import { logCompleted, requestIdOf, type RequestLogLevel } from './request-log.ts';

/** What the kit hands an interceptor besides the node request and response. */
export interface InterceptContext {
  /** The service's logger; pass `reqId` when logging about one request. */
  readonly log: Logger;
  /**
   * The request's id: the caller's well-formed `x-request-id`, or a new one. The app sees the same id if the request
   * goes on to it; an interceptor that answers sets the `x-request-id` header itself.
   */
  requestId(req: http.IncomingMessage): string;
  /**
   * Writes the `request completed` line the app writes for its own requests, if `level` (default info) is enabled;
   * 5xx log at error whatever `level` says. `started` is the `performance.now()` the request was taken at.
   */
  logCompleted(req: http.IncomingMessage, status: number, started: number, level?: RequestLogLevel): void;
}

/**
 * Takes a request on the node request, before the framework: true when it handled the request (it then owns the
 * response, its `x-request-id` and its request line), false to pass it on untouched. It runs for every request, so
 * it decides cheaply and synchronously; one that learns only later that the request is the app's (after screening
 * it, say) answers true and hands the request over with `service.serveApp`.
 */
export type Interceptor = (req: http.IncomingMessage, res: http.ServerResponse, kit: InterceptContext) => boolean;

/** `first`, then `second` when `first` passed the request on. */
export function chainInterceptors(first: Interceptor, second: Interceptor): Interceptor {
  return (req, res, kit) => first(req, res, kit) || second(req, res, kit);
}

/** The context a service hands its interceptors: made once, so taking a request allocates nothing for it. */
export function interceptContext(log: Logger): InterceptContext {
  return {
    log,
    requestId: requestIdOf,
    logCompleted: (req, status, started, level = 'info') => {
      const lineLevel = status >= 500 ? 'error' : level;
      if (!log.isLevelEnabled(lineLevel)) return;
      logCompleted(log, lineLevel, requestIdOf(req), req.method ?? 'GET', req.url ?? '/', status, started);
    },
  };
}
