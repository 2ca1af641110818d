// HTTP to the config server: one or more URIs tried in order, credentials, the local CA, and failures turned into
// one ConfigClientError that names the server and the reason.
import type { Dispatcher } from 'undici';
import { describeError, isTimeoutError } from '../http/agent.ts';
import { FailoverHttp, type FailoverPolicy, type FailoverRequest, type ServiceEndpoint } from '../http/failover.ts';
import { parseServiceUrls, type Observability } from '@trellis/kit';
import { ConfigClientError, type ConfigClientErrorCode } from './errors.ts';
import type { RawEnvironment, RawPropertySource, RawValue } from './properties.ts';

/**
 * Credentials for a config server that requires them: Basic, a bearer token (`Authorization: Bearer`, a function is
 * called per request so an OAuth client can refresh it), or Spring's `X-Config-Token` header.
 */
export type ConfigCredentials =
  | { readonly username: string; readonly password: string }
  | { readonly token: string | (() => string | Promise<string>) }
  | { readonly configToken: string };

/** One config server URL without its user info (that becomes the Authorization header, never a log line). */
export interface ConfigEndpoint extends ServiceEndpoint {
  /** No trailing slash: `https://localhost:8888` or `https://gateway:8443/config`. */
  readonly url: string;
}

/**
 * Reads Spring's `spring.cloud.config.uri`: one URL, a comma-separated list, or an array. User info
 * (`https://user:pass@host:8888`) becomes Basic credentials for that URL, as in Spring.
 */
export function parseConfigUris(value: string | readonly string[]): ConfigEndpoint[] {
  try {
    return parseServiceUrls(value, 'config server URI').map(({ url, basic }) => ({
      url: url.href.replace(/\/+$/, ''),
      basic,
    }));
  } catch (err) {
    throw new ConfigClientError('invalid_options', (err as Error).message);
  }
}

/**
 * `{name}/{profiles,joined}[/{label}]`, each part percent-encoded; a `/` in a label is sent as `(_)` the way
 * Spring's client does, since a slash would split the path.
 */
export function environmentPath(name: string, profiles: readonly string[], label?: string): string {
  const parts = [encodeURIComponent(name), profiles.map(encodeURIComponent).join(',')];
  if (label !== undefined && label !== '') parts.push(encodeURIComponent(label.replaceAll('/', '(_)')));
  return parts.join('/');
}

/** Node's codes for a certificate the client does not trust. */
const TLS_CODES: Readonly<Record<string, string>> = {
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate signed by an untrusted CA',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate signed by an untrusted CA',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate signed by an untrusted CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate signed by an untrusted CA',
  CERT_HAS_EXPIRED: 'certificate expired',
  CERT_NOT_YET_VALID: 'certificate not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not cover this host name',
  CERT_SIGNATURE_FAILURE: 'certificate signature invalid',
};

const CONNECTION_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connect timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CLOSED: 'connection closed',
};

/** A transport failure (no HTTP answer) as the config client's error. */
export function transportError(err: unknown, url: string, what: string): ConfigClientError {
  const code = describeError(err);
  const tls = TLS_CODES[code];
  if (tls !== undefined) {
    return new ConfigClientError(
      'untrusted_certificate',
      `config server ${url} is not trusted: ${tls} (${code}); pass caFile or ca with the CA that signed its certificate (for the local CA: <data-dir>/tls/ca.pem)`,
      { url, cause: err },
    );
  }
  if (isTimeoutError(err)) {
    return new ConfigClientError('timeout', `config server ${url} did not answer ${what} in time (${code})`, {
      url,
      cause: err,
    });
  }
  const reason = CONNECTION_REASONS[code] ?? code;
  const detail = reason === code ? code : `${reason} (${code})`;
  return new ConfigClientError('unreachable', `config server ${url} is unreachable: ${detail}`, { url, cause: err });
}

/** What the server said, from Spring's `{status, description}` or Spring Boot's `{error, message}` bodies. */
function serverReason(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null) {
      const { description, message, error } = parsed as Record<string, unknown>;
      const text = [description, message, error].find((v) => typeof v === 'string' && v !== '');
      // Bounded and on one line: this goes into a log line and a start-up error.
      if (typeof text === 'string') return text.replace(/\s+/g, ' ').slice(0, 200);
    }
  } catch {
    // Not JSON (a proxy's HTML page): the status says enough.
  }
  return undefined;
}

const STATUS_CODES: Readonly<Record<number, ConfigClientErrorCode>> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
};

/** An HTTP answer other than 200 as the config client's error. */
export function statusError(
  status: number,
  body: string,
  url: string,
  what: string,
  retryAfterMs?: number,
): ConfigClientError {
  const code: ConfigClientErrorCode = status >= 500 ? 'server_error' : (STATUS_CODES[status] ?? 'rejected');
  const reason = serverReason(body);
  const hint =
    code === 'unauthorized'
      ? '; check the credentials option'
      : code === 'forbidden'
        ? '; these credentials may not read this application'
        : '';
  return new ConfigClientError(
    code,
    `config server ${url} answered HTTP ${status} to ${what}${reason === undefined ? '' : `: ${reason}`}${hint}`,
    retryAfterMs === undefined ? { url } : { url, retryAfterMs },
  );
}

/** `Retry-After` as milliseconds from now: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  // Every HTTP-date form starts with a day name; Date.parse alone would take `-5` or `1.5` for years.
  const at = /^\s*[A-Za-z]{3}/.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function invalid(url: string, what: string, problem: string): ConfigClientError {
  return new ConfigClientError('invalid_response', `config server ${url} answered ${what} with ${problem}`, { url });
}

/** A value from either the plain shape or the v2 `{value, origin}` shape (a proxy may have asked for it). */
function readValue(value: unknown): RawValue | undefined {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (value === null) return '';
  if (typeof value === 'object' && 'value' in value) return readValue(value.value);
  return undefined;
}

/**
 * The response header in which a Trellis config server lists the values it decrypted: `index=key` pairs joined by
 * commas, the index a position in `propertySources`, the key percent-encoded. Spring's server never sends it.
 */
export const DECRYPTED_HEADER = 'x-trellis-decrypted';

/**
 * Reads {@link DECRYPTED_HEADER}: decrypted keys by property source index, or undefined when the header is absent
 * (a foreign server). Malformed pairs are skipped: they can only make the client mark fewer keys than the server
 * meant, and the key-name rule still applies to those.
 */
export function parseDecryptedHeader(value: string | string[] | undefined): Map<number, string[]> | undefined {
  if (value === undefined) return undefined;
  const out = new Map<number, string[]>();
  for (const pair of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const match = /^(\d{1,6})=(.+)$/.exec(pair.trim());
    if (match?.[1] === undefined || match[2] === undefined) continue;
    let key: string;
    try {
      key = decodeURIComponent(match[2]);
    } catch {
      continue;
    }
    const index = Number(match[1]);
    out.set(index, [...(out.get(index) ?? []), key]);
  }
  return out;
}

/**
 * Checks the Environment JSON's shape; values that are not scalars are dropped rather than failing the start.
 * `decrypted` (from {@link parseDecryptedHeader}) marks the values the server decrypted.
 */
export function readEnvironment(
  body: string,
  url: string,
  what: string,
  decrypted?: ReadonlyMap<number, readonly string[]>,
): RawEnvironment {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw invalid(url, what, 'a body that is not JSON');
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !Array.isArray((parsed as { propertySources?: unknown }).propertySources)
  ) {
    throw invalid(url, what, 'JSON that is not an Environment (no propertySources)');
  }
  const env = parsed as Record<string, unknown> & { propertySources: unknown[] };
  const propertySources = env.propertySources.map((s, i): RawPropertySource => {
    if (typeof s !== 'object' || s === null) throw invalid(url, what, `property source ${i} that is not an object`);
    const { name, source } = s as { name?: unknown; source?: unknown };
    if (typeof source !== 'object' || source === null) throw invalid(url, what, `property source ${i} without source`);
    const values: Record<string, RawValue> = {};
    for (const [k, v] of Object.entries(source)) {
      const value = readValue(v);
      if (value !== undefined) values[k] = value;
    }
    const decryptedKeys = decrypted?.get(i)?.filter((k) => Object.hasOwn(values, k));
    return {
      name: typeof name === 'string' ? name : `source ${i}`,
      source: values,
      ...(decryptedKeys === undefined || decryptedKeys.length === 0 ? {} : { decrypted: decryptedKeys }),
    };
  });
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return {
    name: text(env['name']) ?? '',
    profiles: Array.isArray(env['profiles']) ? env['profiles'].filter((p) => typeof p === 'string') : [],
    label: text(env['label']),
    version: text(env['version']),
    state: text(env['state']),
    propertySources,
  };
}

export interface ConfigHttpOptions {
  readonly uri: string | readonly string[];
  readonly credentials?: ConfigCredentials | undefined;
  /** PEM of the CA(s) to trust instead of the system roots. */
  readonly ca?: string | readonly string[] | undefined;
  readonly timeoutMs: number;
  /** Times and traces each Environment fetch. Default: the current scope's, read once here. */
  readonly observability?: Observability | undefined;
}

export interface WatchStream {
  readonly status: number;
  readonly contentType: string;
  readonly body: Dispatcher.ResponseData['body'];
  readonly url: string;
}

function noAnswer(err: unknown, endpoint: ConfigEndpoint, request: FailoverRequest): ConfigClientError {
  const error = transportError(err, endpoint.url, `GET /${request.path}`);
  // A certificate problem is the client's to fix; another URI would not change it (nor would a retry).
  if (error.code === 'untrusted_certificate') throw error;
  return error;
}

/** Failures as ConfigClientErrors that name the server and the request; a failed token fetch counts as no answer. */
const configFailures: FailoverPolicy<ConfigEndpoint, ConfigClientError> = {
  target: (endpoint, path) => new URL(`${endpoint.url}/${path}`),
  noAnswer,
  credentialsFailed: noAnswer,
  serverError: async (res, endpoint, request) =>
    statusError(
      res.statusCode,
      await res.body.text().catch(() => ''),
      endpoint.url,
      `GET /${request.path}`,
      res.statusCode === 503 ? retryAfterMs(res.headers['retry-after']) : undefined,
    ),
  exhausted: (last) => last ?? new ConfigClientError('unreachable', 'no config server answered'),
};

/**
 * Requests to the config servers, in order from the one that answered last: transport failures and 5xx move on to
 * the next URI; any other answer is final (a 401 from one server would be a 401 from its twin).
 */
export class ConfigHttp extends FailoverHttp<ConfigEndpoint, ConfigClientError> {
  constructor(options: ConfigHttpOptions) {
    const c = options.credentials;
    super({
      endpoints: parseConfigUris(options.uri),
      credentials: c !== undefined && 'configToken' in c ? { header: 'x-config-token', value: c.configToken } : c,
      timeoutMs: options.timeoutMs,
      ca: options.ca,
      policy: configFailures,
      observability: options.observability,
    });
  }

  /**
   * Fetches and reads one Environment. Throws ConfigClientError. Timed and traced (a CLIENT span whose trace headers
   * the request carries) under the template of Spring's Environment path.
   */
  async environment(path: string, signal?: AbortSignal): Promise<RawEnvironment> {
    const uriTemplate = path.split('/').length > 2 ? '/{name}/{profiles}/{label}' : '/{name}/{profiles}';
    const request = { path, headers: { accept: 'application/json' }, signal, uriTemplate };
    return this.request(request, async (res, { url }) => {
      const body = await res.body.text();
      const what = `GET /${path}`;
      if (res.statusCode !== 200) throw statusError(res.statusCode, body, url, what);
      return readEnvironment(body, url, what, parseDecryptedHeader(res.headers[DECRYPTED_HEADER]));
    });
  }

  /** Opens the watch stream; the caller reads or destroys the body. */
  async watch(path: string, signal: AbortSignal, idleMs: number): Promise<WatchStream> {
    const request = { path: `watch/${path}`, headers: { accept: 'text/event-stream' }, signal, bodyTimeoutMs: idleMs };
    return this.request(request, (res, { url }) => {
      const type = res.headers['content-type'];
      return Promise.resolve({
        status: res.statusCode,
        contentType: typeof type === 'string' ? type : '',
        body: res.body,
        url,
      });
    });
  }
}
