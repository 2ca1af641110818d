// What predicates and filters see of a request, and the response head filters change.

// Predicates only read; filters rewrite the outgoing path and headers and add response headers. Kept free of node:http
// so the model is testable without sockets.
import type { AuthInfo } from '@trellis/clients/security';

/** Headers as node parses them: lower-case names, `set-cookie` (and duplicates we keep) as arrays. */
export type HeaderMap = Record<string, string | string[] | undefined>;

export interface RequestView {
  readonly method: string;
  /** The request path as sent (still percent-encoded), without the query. */
  readonly path: string;
  /** The query string without `?`; empty when there is none. */
  readonly query: string;
  readonly headers: Readonly<HeaderMap>;
  /** The peer's IP address (IPv4-mapped IPv6 addresses unwrapped). */
  readonly remoteAddress: string;
  /** Milliseconds since the epoch when the request arrived (After/Before/Between). */
  readonly now: number;
  /** The route chosen for a Weight group on this request; the table decides once per request and group. */
  weightChoice(group: string): string | undefined;
}

export interface Exchange {
  readonly request: RequestView;
  readonly routeId: string;
  /** URI variables captured by Path and Host predicates (`{segment}`), for SetPath and header templates. */
  readonly vars: Record<string, string>;
  /** The path sent upstream; filters rewrite it. */
  path: string;
  /** The query sent upstream, without `?`. */
  query: string;
  /** Headers sent upstream; hop-by-hop headers are already gone. */
  readonly headers: HeaderMap;
  /** Headers filters add to the response before the upstream's answer is written (X-RateLimit-*). */
  readonly responseHeaders: [string, string][];
  /** The verified token, when the route checks one. */
  auth: AuthInfo | undefined;
}

export interface ResponseHead {
  status: number;
  readonly headers: HeaderMap;
}

export function firstHeader(headers: Readonly<HeaderMap>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function headerValues(headers: Readonly<HeaderMap>, name: string): string[] {
  const v = headers[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}
