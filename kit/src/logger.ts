// The one root logger of a process (pino), with secrets redacted from every line and every logged URL.
import { context, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Keys whose values never reach a log line in clear, wherever they sit in the logged object (headers, bodies,
 * settings). Matched case-insensitively on the whole key.
 */
export const SENSITIVE_KEYS: ReadonlySet<string> = new Set(
  [
    'authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'x-config-token',
    // The gateway's proof to the auth server (trusted-proxies.ts): every upstream behind the gateway is handed it.
    'x-trellis-proxy-secret',
    'password',
    'passwd',
    'secret',
    'clientSecret',
    'client_secret',
    'token',
    'accessToken',
    'access_token',
    'refreshToken',
    'refresh_token',
    'idToken',
    'id_token',
    'privateKey',
    'encryptKey',
    'decrypted',
  ].map((k) => k.toLowerCase()),
);

const CENSOR = '[redacted]';
const MAX_DEPTH = 5;

/**
 * Returns the object with every sensitive key's value censored, copying only the branches that change (the caller's
 * object is never mutated). pino's own path-based redaction costs tens of microseconds a line with wildcards; this
 * walk costs well under one for a request line.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (depth > MAX_DEPTH || typeof value !== 'object' || value === null || value instanceof Error) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const redacted = redactSecrets(item, depth + 1);
      if (redacted !== item) (copy ??= [...(value as unknown[])])[i] = redacted;
    });
    return (copy ?? value) as T;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const redacted = SENSITIVE_KEYS.has(key.toLowerCase()) ? CENSOR : redactSecrets(item, depth + 1);
    if (redacted !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = redacted;
  }
  return (copy ?? value) as T;
}

/**
 * Query parameters whose values are masked when a URL is logged (tokens sometimes travel in query strings). Matched
 * on any part of the name, so OAuth's longer names (id_token_hint, client_assertion, user_code, device_code) and the
 * usual API-key spellings are caught without a list to keep up to date; masking a harmless parameter costs nothing.
 */
const SENSITIVE_QUERY =
  /([?&][^=&#]*(?:token|secret|pass|pwd|code|assertion|jwt|key|hint|cred|session|sig|auth|bearer|refresh|otp|pin|ticket|sid|nonce|state|private|hash|salt)[^=&#]*=)[^&#]*/gi;

/** Masks secret-bearing query parameters so a logged URL never carries a token. */
export function redactUrl(url: string): string {
  return url.includes('=') ? url.replace(SENSITIVE_QUERY, '$1[redacted]') : url;
}

export interface LoggerSettings {
  readonly name: string;
  readonly level?: string;
  /** `auto` pretty-prints only when stdout is a terminal; JSON lines otherwise (log shippers read those). */
  readonly format?: 'json' | 'pretty' | 'auto';
  /** Where lines go; tests pass a stream to read them back. */
  readonly destination?: DestinationStream;
}

/**
 * The one root logger of a process; components and requests take children of it.
 *
 * @example
 * const log = createLogger({ name: 'registry', level: 'info' });
 * log.info({ port: 8761 }, 'listening');
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    name: settings.name,
    level: settings.level ?? 'info',
    formatters: { log: (obj) => redactSecrets(obj) },
    serializers: { err: pino.stdSerializers.err },
    timestamp: timeAndTraceIds,
  };
  if (settings.destination !== undefined) return pino(options, settings.destination);
  const pretty = settings.format === 'pretty' || (settings.format !== 'json' && process.stdout.isTTY === true);
  if (pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  // Synchronous writes, one per turn of the event loop. sonic-boom's asynchronous mode loses lines at exit when the
  // pipe is full: a chunk waiting to retry after EAGAIN is skipped by its exit flush (seen with a slow log reader,
  // test/kit/logger-destination.e2e.test.ts). Like Node's own stdout on a pipe and logback's console appender, a
  // service whose log reader stalls waits for it rather than dropping lines.
  return pino(options, batchedPerTurn(pino.destination({ dest: 1, sync: true })));
}

/**
 * The line's time, then the trace and span ids of the span it is written in (`traceId`, `spanId`, as Micrometer
 * Tracing puts them in Spring's log lines), so a line leads to its trace; as it is outside any span or with tracing
 * off. pino takes the time as a piece of JSON text it joins to the line, so the ids cost a few joined strings here:
 * added to the logged object (a formatter or a pino mixin) they made a copy of every line's fields and two more keys
 * to serialize, and put into the finished line they made it copied once more. The logged fields follow, and win.
 */
function timeAndTraceIds(): string {
  const time = `,"time":${Date.now()}`;
  const span = trace.getSpan(context.active());
  if (span === undefined) return time;
  const ids = span.spanContext();
  // Hex: the propagators take only valid ids from a caller, and the tracer makes its own (no check per line, which
  // would cost what this saves).
  return `${time},"traceId":"${ids.traceId}","spanId":"${ids.spanId}"`;
}

/** The hand-overs of every batching destination, run when the process exits. */
const pendingBatches = new Set<() => void>();

/**
 * Lines gathered over one turn of the event loop and handed to sonic-boom as one write: a write per line costs a
 * service several µs a logged request under load, one write per turn a fraction of that. Lines still waiting when
 * the process exits are written by this exit listener, which runs before any other.
 */
function batchedPerTurn(dest: DestinationStream & { flush?(cb?: (err?: Error) => void): void }): DestinationStream {
  let lines: string[] = [];
  let scheduled = false;
  const handOver = (): void => {
    scheduled = false;
    if (lines.length === 0) return;
    const text = lines.length === 1 ? (lines[0] ?? '') : lines.join('');
    lines = [];
    dest.write(text);
  };
  if (pendingBatches.size === 0) process.prependListener('exit', () => pendingBatches.forEach((handOff) => handOff()));
  pendingBatches.add(handOver);
  const batched = {
    write(line: string): void {
      lines.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(handOver);
      }
    },
    flush(cb?: (err?: Error) => void): void {
      handOver();
      if (dest.flush === undefined) cb?.();
      else dest.flush(cb);
    },
  };
  return batched;
}
