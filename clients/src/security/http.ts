// HTTP to the authorization server: discovery, JWKS and the token endpoint, through one undici dispatcher so a private
// CA (`ca`) applies to all three.
import { Agent, fetch as undiciFetch, type Dispatcher } from 'undici';
import type { FetchImplementation } from 'jose';
import type { Observability } from '@trellis/kit';
import { describeError, KEEP_ALIVE_MS } from '../http/agent.ts';
import { HttpClientObserver } from '../http/observe.ts';
import { SecurityError } from './errors.ts';

export interface ServerConnectionOptions {
  /** PEM certificate(s) to trust for an authorization server behind a private CA (e.g. Trellis's dev CA). */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** An undici dispatcher of the caller's; wins over `ca`. */
  readonly dispatcher?: Dispatcher;
  /** Longest wait for an answer from the authorization server. Default 5 s. */
  readonly timeoutMs?: number;
  /** Times and traces token requests. Default: the observability of the scope the client is made in. */
  readonly observability?: Observability;
}

export interface ServerConnection {
  readonly dispatcher: Dispatcher;
  readonly timeoutMs: number;
  /** Undefined when the service observes nothing. */
  readonly observer: HttpClientObserver | undefined;
  /** Closes the dispatcher when this module made it. */
  close(): Promise<void>;
}

/** The dispatcher to reach the authorization server with: the caller's, or an Agent of our own (trusting `ca`). */
export function serverConnection(options: ServerConnectionOptions): ServerConnection {
  const timeoutMs = options.timeoutMs ?? 5000;
  const observer = HttpClientObserver.of(options.observability);
  if (options.dispatcher !== undefined) {
    return { dispatcher: options.dispatcher, timeoutMs, observer, close: async () => {} };
  }
  const given = options.ca;
  const ca = given === undefined || typeof given === 'string' || Buffer.isBuffer(given) ? given : [...given];
  const agent = new Agent({
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
    connect: { timeout: Math.min(2000, timeoutMs), ...(ca === undefined ? {} : { ca }) },
  });
  return { dispatcher: agent, timeoutMs, observer, close: () => agent.close() };
}

/** jose's remote JWKS fetches through this, so the JWKS request uses the same dispatcher and trust as the rest. */
export function joseFetch(connection: ServerConnection): FetchImplementation {
  return async (url, init) => {
    const res = await undiciFetch(url, {
      method: init.method,
      redirect: init.redirect,
      signal: init.signal,
      headers: Object.fromEntries(init.headers),
      dispatcher: connection.dispatcher,
    });
    // undici's Response is the global one's type; jose only reads status and json().
    return res;
  };
}

export function unavailable(what: string, err: unknown): SecurityError {
  return new SecurityError('authorization_server_unavailable', `${what}: ${describeError(err)}`, { cause: err });
}

/** GETs a JSON document; 5xx and connection failures are `authorization_server_unavailable`. */
export async function getJson(connection: ServerConnection, url: string, what: string): Promise<unknown> {
  let res: Dispatcher.ResponseData;
  try {
    const u = new URL(url);
    res = await connection.dispatcher.request({
      origin: u.origin,
      path: u.pathname + u.search,
      method: 'GET',
      headers: { accept: 'application/json' },
      headersTimeout: connection.timeoutMs,
      bodyTimeout: connection.timeoutMs,
    });
  } catch (err) {
    throw unavailable(`${what} at ${url} did not answer`, err);
  }
  if (res.statusCode !== 200) {
    await res.body.dump();
    const code = res.statusCode >= 500 ? 'authorization_server_unavailable' : 'invalid_response';
    throw new SecurityError(code, `${what} at ${url} answered ${res.statusCode}`);
  }
  try {
    return await res.body.json();
  } catch (err) {
    throw new SecurityError('invalid_response', `${what} at ${url} is not JSON`, { cause: err });
  }
}

/**
 * POSTs an application/x-www-form-urlencoded form (RFC 6749's token, RFC 7662's introspection) and reads the answer as
 * JSON when it is JSON (`undefined` otherwise, so the caller can name the status). Connection failures are
 * `authorization_server_unavailable`, naming `what`. With `uriTemplate` the request is timed and traced when the
 * connection is observed: the span names only method, host and path, never the form (it holds the client secret).
 */
export async function postForm(
  connection: ServerConnection,
  url: URL,
  form: readonly (readonly [string, string])[],
  headers: Readonly<Record<string, string>>,
  what: string,
  uriTemplate?: string,
): Promise<{ status: number; body: unknown }> {
  let res: Dispatcher.ResponseData;
  const exchange =
    uriTemplate === undefined ? undefined : connection.observer?.start('POST', url, url.hostname, uriTemplate);
  const all = { ...headers, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
  try {
    res = await connection.dispatcher.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: 'POST',
      headers: exchange === undefined ? all : exchange.headers(all),
      body: form.map(([k, v]) => `${k}=${formEncode(v)}`).join('&'),
      headersTimeout: connection.timeoutMs,
      bodyTimeout: connection.timeoutMs,
    });
  } catch (err) {
    exchange?.fail(err);
    throw unavailable(`${what} ${url.origin}${url.pathname} did not answer`, err);
  }
  exchange?.end(res.statusCode);
  let body: unknown;
  try {
    body = await res.body.json();
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, body };
}

/**
 * The URL of one of the authorization server's endpoints: the configured one, else the one its discovery document
 * names under `key`; looked up once, and again after a failure.
 */
export function endpointOf(
  connection: ServerConnection,
  issuer: string | undefined,
  configured: string | undefined,
  key: 'tokenEndpoint' | 'introspectionEndpoint',
  field: string,
): () => Promise<URL> {
  return lazily(async () => {
    if (configured !== undefined) return new URL(configured);
    if (issuer === undefined) throw new SecurityError('invalid_options', `neither an issuer nor the ${field} is set`);
    const found = (await discoverServer(connection, issuer))[key];
    if (found === undefined) {
      throw new SecurityError('invalid_response', `the discovery document of ${issuer} has no ${field}`);
    }
    return new URL(found);
  });
}

/** The parts of OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414) this module uses. */
export interface ServerMetadata {
  readonly issuer: string;
  readonly tokenEndpoint: string | undefined;
  readonly jwksUri: string | undefined;
  readonly introspectionEndpoint: string | undefined;
}

/** application/x-www-form-urlencoded (RFC 6749 appendix B): spaces as '+'. */
export function formEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, '+');
}

/** RFC 6749 §2.3.1 client_secret_basic: each part form-encoded before base64, so ':' or non-ASCII survive. */
export function basicCredentials(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString('base64')}`;
}

function optionalUrl(doc: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = doc[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !URL.canParse(v)) {
    throw new SecurityError('invalid_response', `${where}: "${key}" is not a URL`);
  }
  return v;
}

/**
 * Reads `<issuer>/.well-known/openid-configuration`. The document's `issuer` must equal the configured one exactly
 * (OIDC Discovery §4.3): otherwise a server could hand out metadata, and keys, for an issuer it is not.
 */
export async function discoverServer(connection: ServerConnection, issuer: string): Promise<ServerMetadata> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const doc = await getJson(connection, url, 'OpenID discovery');
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SecurityError('invalid_response', `OpenID discovery at ${url} is not a JSON object`);
  }
  const fields = doc as Record<string, unknown>;
  if (fields.issuer !== issuer) {
    throw new SecurityError(
      'invalid_response',
      `OpenID discovery at ${url} names issuer ${JSON.stringify(fields.issuer)}, expected ${JSON.stringify(issuer)}`,
    );
  }
  return {
    issuer,
    tokenEndpoint: optionalUrl(fields, 'token_endpoint', url),
    jwksUri: optionalUrl(fields, 'jwks_uri', url),
    introspectionEndpoint: optionalUrl(fields, 'introspection_endpoint', url),
  };
}

/**
 * Runs `load` once and shares its promise; a failure is forgotten so the next call tries again instead of failing
 * forever after one unlucky start-up.
 */
export function lazily<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () =>
    (pending ??= load().catch((err: unknown) => {
      pending = undefined;
      throw err;
    }));
}
