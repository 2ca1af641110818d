import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that never reach a log line in clear. pino's redaction matches one level of wildcard, so the common nesting
 * places (request and response headers, a logged `body`, `config`, `client` or `credentials` object) are listed.
 */
const SENSITIVE_KEYS = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-config-token',
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
];

function bracket(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `["${key}"]`;
}

export const REDACT_PATHS: readonly string[] = [
  ...SENSITIVE_KEYS.map((k) => bracket(k).replace(/^\./, '')),
  ...SENSITIVE_KEYS.map((k) => `*${bracket(k)}`),
  ...['req.headers', 'res.headers', 'request.headers', 'response.headers'].flatMap((p) =>
    SENSITIVE_KEYS.map((k) => `${p}${bracket(k)}`),
  ),
];

/** Query parameters whose values are masked when a URL is logged (tokens sometimes travel in query strings). */
const SENSITIVE_QUERY =
  /([?&](?:access_token|refresh_token|id_token|token|code|client_secret|password|secret)=)[^&#]*/gi;

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
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    serializers: { err: pino.stdSerializers.err },
  };
  if (settings.destination !== undefined) return pino(options, settings.destination);
  const pretty = settings.format === 'pretty' || (settings.format !== 'json' && process.stdout.isTTY === true);
  if (pretty) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  // Asynchronous writes: a request must not wait for the log pipe. sonic-boom flushes what is buffered on exit.
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
