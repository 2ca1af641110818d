// A request's id and its `request completed` line, the same whether the node level or the app answers it.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { redactUrl, type Logger } from './logger.ts';

/** Levels a route may choose for its `request completed` line; 5xx always log at error. */
export type RequestLogLevel = 'debug' | 'info';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const REQUEST_ID_KEY = Symbol('trellis.requestId');
type IncomingWithId = http.IncomingMessage & { [REQUEST_ID_KEY]?: string };

/** Keeps a caller's well-formed request id so one id follows a call across services; otherwise a new one. */
export function requestIdFor(incoming: string | string[] | undefined): string {
  return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/** The id a node-level handler already chose for this request, if one did. */
export function chosenRequestId(req: http.IncomingMessage): string | undefined {
  return (req as IncomingWithId)[REQUEST_ID_KEY];
}

/** The request's id, chosen on first ask and kept on the request: a node-level answer and the app agree on it. */
export function requestIdOf(req: http.IncomingMessage): string {
  return ((req as IncomingWithId)[REQUEST_ID_KEY] ??= requestIdFor(req.headers['x-request-id']));
}

/** Longest URL a request line shows: a caller chooses its length, up to node's 16 KiB of headers. */
const MAX_LOGGED_URL = 2048;

/** The URL as logged: tokens in its query masked, cut at MAX_LOGGED_URL. */
function shownUrl(url: string): string {
  const masked = redactUrl(url);
  return masked.length > MAX_LOGGED_URL ? `${masked.slice(0, MAX_LOGGED_URL)}…` : masked;
}

/** Writes the `request completed` line (the caller checked that `level` is enabled). */
export function logCompleted(
  log: Logger,
  level: 'error' | RequestLogLevel,
  requestId: string,
  method: string,
  url: string,
  status: number,
  started: number,
): void {
  log[level](
    {
      reqId: requestId,
      req: { method, url: shownUrl(url) },
      res: { statusCode: status },
      responseTime: Math.round((performance.now() - started) * 100) / 100,
    },
    'request completed',
  );
}

/**
 * A child logger made on first use: pino's child() costs microseconds (redaction set-up), which would dominate a
 * small request that never logs.
 */
export function lazyChild(parent: Logger, bindings: Record<string, string>): Logger {
  return new Proxy(parent, new LazyChildHandler(parent, bindings));
}

/** A class, not an object literal: no closure is made per request (tsx names each closure with a defineProperty). */
class LazyChildHandler implements ProxyHandler<Logger> {
  #child: Logger | undefined;
  readonly #parent: Logger;
  readonly #bindings: Record<string, string>;

  constructor(parent: Logger, bindings: Record<string, string>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  get(_target: Logger, prop: string | symbol): unknown {
    const child = (this.#child ??= this.#parent.child(this.#bindings));
    const value: unknown = Reflect.get(child, prop, child);
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(child) : value;
  }
}
