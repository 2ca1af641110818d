// The undici Agent every client builds on, and how its failures are classified (connection, timeout) and told.
import { Agent } from 'undici';

/**
 * Idle keep-alive sockets are dropped after 4 s, under the 5 s a Node server keeps them (http.Server's
 * keepAliveTimeout). Were the client to keep a socket longer than the server, it could send a request on a socket
 * the server is closing at that moment: "other side closed" / "connection prematurely closed". The cap also applies
 * to servers that advertise a longer `Keep-Alive: timeout=` hint.
 */
export const KEEP_ALIVE_MS = 4000;

/**
 * An undici Agent with the keep-alive limits above and a bounded connect time. `ca` (PEM) replaces the trusted roots
 * for HTTPS, so a client can trust the local development CA without touching the process-wide trust store.
 */
export function createAgent(options: { connectTimeoutMs: number; ca?: string | readonly string[] }): Agent {
  return new Agent({
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
    connect: {
      timeout: options.connectTimeoutMs,
      ...(options.ca === undefined ? {} : { ca: typeof options.ca === 'string' ? options.ca : [...options.ca] }),
    },
  });
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

function codeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  // Node wraps happy-eyeballs failures (several addresses tried) in an AggregateError whose code may be missing.
  if (err instanceof AggregateError) return err.errors.map(codeOf).find((c) => c !== undefined);
  return codeOf((err as { cause?: unknown }).cause);
}

/**
 * Whether the request failed before any answer came, for a reason another instance may not share (refused, reset,
 * unreachable, connect timeout, socket closed under it). Timeouts waiting for an answer are not among them: the
 * instance may be working on the request.
 */
export function isConnectionError(err: unknown): boolean {
  const code = codeOf(err);
  return code !== undefined && CONNECTION_CODES.has(code);
}

export function isTimeoutError(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
}

/** A short description of a failure for one log line: the error code, or the message. */
export function describeError(err: unknown): string {
  const code = codeOf(err);
  if (code !== undefined) return code;
  return err instanceof Error ? err.message : String(err);
}
