// The gateway's settings: flags, then environment variables, then defaults. The only file that reads the environment.
import {
  commonSettings,
  CREDENTIAL_FORMAT,
  parseCredential,
  loadSettings,
  parseTrustedProxies,
  setting,
  SettingsError,
  type Credential,
  type HealthShowDetails,
  type Settings,
  type SettingSpec,
  type SettingsSource,
  observabilityOf,
  type ObservabilitySettings,
  workersSetting,
  apiDocsEnabled,
} from '@trellis/kit';
import { tlsSettings } from '@trellis/kit/tls';
import { parseDataSize } from './routing/definition.ts';

/** Routes the management API may hold in all (file, config server and API routes together), unless --max-routes. */
export const DEFAULT_MAX_ROUTES = 1000;

/** A client's time for a request head: ample for any real client, and a slowloris holds a connection this long at most. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 20_000;
/** node's own keep-alive timeout: an idle connection costs a socket and a few KiB until then. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5000;
/**
 * Client connections per listener: far above what one gateway process serves busy, and a bound on what idle ones can
 * hold (~17 KiB of memory each, measured in faults.e2e: ~340 MiB at the cap).
 */
export const DEFAULT_MAX_CONNECTIONS = 20_000;

const adminAuth: SettingSpec<Credential, false> = {
  flag: 'admin-auth',
  env: 'GATEWAY_ADMIN_AUTH',
  secret: true,
  accepts: CREDENTIAL_FORMAT,
  parse: parseCredential,
  help: 'credential of the route management API (/actuator/gateway/**: list, create, delete routes, refresh), required on every call; unset, the API is not exposed (404)',
};

export function gatewaySettings() {
  return {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: 'GATEWAY_PORT', default: 8080, help: 'HTTP port' }),
    httpsPort: setting.port({ flag: 'https-port', env: 'GATEWAY_HTTPS_PORT', default: 8443, help: 'HTTPS port' }),
    workers: workersSetting(),
    httpOnly: setting.boolean({
      flag: 'http-only',
      env: 'GATEWAY_HTTP_ONLY',
      default: false,
      help: 'serve plain HTTP only, without the HTTPS listener (tests, or TLS ended in front of the gateway)',
    }),
    ...tlsSettings('GATEWAY'),
    routesFile: setting.string({
      flag: 'routes-file',
      env: 'GATEWAY_ROUTES_FILE',
      help: 'YAML file with spring.cloud.gateway.routes (or a top-level routes list); POST /actuator/gateway/refresh rereads it',
    }),
    configUri: setting.url({
      flag: 'config-uri',
      env: ['GATEWAY_CONFIG_URI', 'SPRING_CLOUD_CONFIG_URI'],
      secret: true,
      help: "config server URL (Spring's spring.cloud.config.uri): routes from spring.cloud.gateway.* of the application gateway, followed live; they replace the routes file's where both set them",
    }),
    profiles: setting.list({
      flag: 'profiles',
      env: 'SPRING_PROFILES_ACTIVE',
      default: ['default'],
      help: 'configuration profiles fetched from the config server, later ones winning',
    }),
    rateLimitRedisUrl: setting.string({
      flag: 'rate-limit-redis-url',
      env: ['GATEWAY_RATE_LIMIT_REDIS_URL', 'SPRING_DATA_REDIS_URL'],
      secret: true,
      help: 'redis:// or rediss:// URL: RequestRateLimiter buckets shared by every gateway using it (in memory when unset); requests pass when Redis is unreachable',
    }),
    adminAuth,
    maxRoutes: setting.integer({
      flag: 'max-routes',
      env: 'GATEWAY_MAX_ROUTES',
      default: DEFAULT_MAX_ROUTES,
      min: 1,
      help: 'most routes the table may hold; the management API refuses to create more (409)',
    }),
    registryUrl: setting.string({
      flag: 'registry-url',
      env: ['GATEWAY_REGISTRY_URL', 'EUREKA_CLIENT_SERVICEURL_DEFAULTZONE'],
      // The URL may carry the registry's write credential as user info.
      secret: true,
      help: 'Eureka URL(s), comma-separated (http://localhost:8761/eureka/): lb:// routes and self-registration',
    }),
    issuer: setting.url({
      flag: 'issuer',
      env: 'GATEWAY_ISSUER',
      help: 'issuer of the JWT access tokens routes check (iss); enables TokenCheck',
    }),
    audience: setting.list({ flag: 'audience', env: 'GATEWAY_AUDIENCE', help: 'accepted token audiences (aud)' }),
    jwksUri: setting.url({
      flag: 'jwks-uri',
      env: 'GATEWAY_JWKS_URI',
      help: "the issuer's JWKS (default: from its OpenID discovery document)",
    }),
    introspectionClientId: setting.string({
      flag: 'introspection-client-id',
      env: 'GATEWAY_INTROSPECTION_CLIENT_ID',
      help: "with --issuer: the gateway's client at the issuer's introspection endpoint, for routes with TokenCheck introspect: true",
    }),
    introspectionClientSecret: setting.string({
      flag: 'introspection-client-secret',
      env: 'GATEWAY_INTROSPECTION_CLIENT_SECRET',
      secret: true,
      help: 'the secret of --introspection-client-id',
    }),
    introspectionUri: setting.url({
      flag: 'introspection-uri',
      env: 'GATEWAY_INTROSPECTION_URI',
      help: "the issuer's RFC 7662 introspection endpoint (default: from its OpenID discovery document)",
    }),
    defaultAuth: setting.choice(['token', 'public'], {
      flag: 'default-auth',
      env: 'GATEWAY_DEFAULT_AUTH',
      default: 'token',
      help: 'with --issuer: whether routes without TokenCheck or Public need a valid token (token) or not (public)',
    }),
    upstreamCaFile: setting.string({
      flag: 'upstream-ca-file',
      // TRELLIS_CA_FILE is what `trellis up` sets for every component: the landscape's CA.
      env: ['GATEWAY_UPSTREAM_CA_FILE', 'TRELLIS_CA_FILE'],
      help: 'PEM CA bundle trusted for https:// upstreams besides the system roots (default: <data-dir>/tls/ca.pem, the local CA, when it exists)',
    }),
    connectTimeoutMs: setting.integer({
      flag: 'connect-timeout-ms',
      env: 'GATEWAY_CONNECT_TIMEOUT_MS',
      default: 2000,
      min: 1,
      help: 'time to connect to an upstream (a route may set connect-timeout metadata)',
    }),
    maxRequestSize: setting.string({
      flag: 'max-request-size',
      env: 'GATEWAY_MAX_REQUEST_SIZE',
      default: '5MB',
      help: "largest request body forwarded (413 beyond), like 5000000 or 5MB; a route's RequestSize filter overrides it; 0 for no limit",
    }),
    trustedProxies: setting.list({
      flag: 'trusted-proxies',
      env: 'GATEWAY_TRUSTED_PROXIES',
      help: 'IP addresses or CIDR blocks of proxies in front of the gateway whose X-Forwarded-* and Forwarded headers are kept and appended to; from any other peer they are replaced (default: none)',
    }),
    proxySecret: setting.string({
      flag: 'proxy-secret',
      env: 'GATEWAY_PROXY_SECRET',
      secret: true,
      help: "secret sent as x-trellis-proxy-secret to the --auth-server-upstreams only, so the auth server (AUTH_TRUSTED_PROXY_SECRET) believes the gateway's X-Forwarded-For; a client's copy of that header is always dropped",
    }),
    authServerUpstreams: setting.list({
      flag: 'auth-server-upstreams',
      env: 'GATEWAY_AUTH_SERVER_UPSTREAMS',
      help: "URL(s) of the auth server as the gateway reaches it (http://localhost:9999), decided on after lb:// resolution: only requests to these get --proxy-secret and the auth server's session cookies (_session, _interaction, ...), which are taken out of the Cookie header sent to every other upstream (default: the origin of --issuer)",
    }),
    maxInFlightPerClient: setting.integer({
      flag: 'max-in-flight-per-client',
      env: 'GATEWAY_MAX_IN_FLIGHT_PER_CLIENT',
      default: 64,
      min: 0,
      help: 'most proxied requests one client address (an IPv6 /64; behind --trusted-proxies, the X-Forwarded-For client) may have in flight at once, 429 beyond; half the 128 connections kept per upstream, so one client holding slow or streaming requests never takes them all; 0 for no cap',
    }),
    responseTimeoutMs: setting.integer({
      flag: 'response-timeout-ms',
      env: 'GATEWAY_RESPONSE_TIMEOUT_MS',
      default: 30_000,
      min: 1,
      help: "time to an upstream's response head (a route may set response-timeout metadata)",
    }),
    headersTimeoutMs: setting.integer({
      flag: 'headers-timeout-ms',
      env: 'GATEWAY_HEADERS_TIMEOUT_MS',
      default: DEFAULT_HEADERS_TIMEOUT_MS,
      min: 100,
      max: 300_000,
      help: "time a client has to send a request's line and headers, from its connection or the request's first byte; then 408 and the connection is closed (slowloris)",
    }),
    idleTimeoutMs: setting.integer({
      flag: 'idle-timeout-ms',
      env: 'GATEWAY_IDLE_TIMEOUT_MS',
      default: DEFAULT_IDLE_TIMEOUT_MS,
      min: 100,
      help: "time a kept-alive client connection may sit idle between requests before the gateway closes it (Spring Boot's server.netty.idle-timeout); keep it above the idle timeout of a load balancer in front",
    }),
    maxConnections: setting.integer({
      flag: 'max-connections',
      env: 'GATEWAY_MAX_CONNECTIONS',
      default: DEFAULT_MAX_CONNECTIONS,
      min: 1,
      help: 'most client connections each listener (HTTP, HTTPS) holds at once, ~17 KiB of memory each when idle; further ones are closed on arrival until some end (raise the open-file limit, ulimit -n, above it)',
    }),
  };
}

export type GatewaySettings = Settings<ReturnType<typeof gatewaySettings>>;

export interface GatewayConfig {
  readonly dataDir: string;
  readonly host: string | undefined;
  /** Host names served besides loopback ones (--allowed-hosts). */
  readonly allowedHosts: readonly string[] | undefined;
  readonly healthShowDetails: HealthShowDetails;
  readonly observability: ObservabilitySettings;
  readonly port: number;
  /** undefined with --http-only. */
  readonly httpsPort: number | undefined;
  readonly tls: {
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly caFile?: string;
    readonly hostnames?: readonly string[];
  };
  readonly routesFile: string | undefined;
  /** Config server to read `spring.cloud.gateway.*` of the application `gateway` from; undefined: the file only. */
  readonly configServer: { readonly uri: string; readonly profiles: readonly string[] } | undefined;
  /** Redis for RequestRateLimiter buckets shared by several gateways; undefined keeps them in memory. */
  readonly rateLimitRedisUrl: string | undefined;
  /** Extra CA for https:// upstreams; undefined means the local development CA when its file exists. */
  readonly upstreamCaFile: string | undefined;
  readonly registryUrl: readonly string[] | undefined;
  readonly tokens:
    | {
        readonly issuer: string;
        readonly audience: readonly string[];
        readonly jwksUri: string | undefined;
        /** The gateway's introspection client; undefined: no route may use TokenCheck's introspect. */
        readonly introspection:
          { readonly clientId: string; readonly clientSecret: string; readonly uri: string | undefined } | undefined;
      }
    | undefined;
  readonly requireTokens: boolean;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** Request bodies over this many bytes get 413 (a route's RequestSize overrides it); undefined: no limit. */
  readonly maxRequestSize: number | undefined;
  /** Peers (IP or CIDR) whose forwarding headers are trusted; every other peer's are replaced. */
  readonly trustedProxies: readonly string[];
  /** Sent in x-trellis-proxy-secret to the auth server's upstreams only (see auth-server.ts); undefined: not sent. */
  readonly proxySecret: string | undefined;
  /** Origins (`http://host:port`) of the auth server's upstreams: the only ones given the proxy secret and its cookies. */
  readonly authServerUpstreams: readonly string[];
  /** Proxied requests one source address may have in flight at once (429 beyond); undefined: no cap. */
  readonly maxInFlightPerClient: number | undefined;
  /** The management API's credential; undefined: /actuator/gateway/** is not exposed. */
  readonly adminAuth: Credential | undefined;
  /** Most routes the management API lets the table grow to. */
  readonly maxRoutes: number;
  /** Whether /v3/api-docs and Swagger UI are served (--api-docs; off by default with NODE_ENV=production). */
  readonly apiDocs: boolean;
  /** Client connections: time to send a request head, idle time between requests, most at once per listener. */
  readonly connections: {
    readonly headersTimeoutMs: number;
    readonly idleTimeoutMs: number;
    readonly max: number;
  };
}

/** The introspection client: both halves of the credential, and an issuer to introspect at. */
function introspection(s: GatewaySettings): NonNullable<GatewayConfig['tokens']>['introspection'] {
  const { introspectionClientId: clientId, introspectionClientSecret: clientSecret } = s;
  if (clientId === undefined && clientSecret === undefined) return undefined;
  if (clientId === undefined || clientSecret === undefined) {
    throw new SettingsError(
      '--introspection-client-id (GATEWAY_INTROSPECTION_CLIENT_ID) and --introspection-client-secret (GATEWAY_INTROSPECTION_CLIENT_SECRET) go together',
    );
  }
  if (s.issuer === undefined) throw new SettingsError('--introspection-client-id needs --issuer (GATEWAY_ISSUER)');
  return { clientId, clientSecret, uri: s.introspectionUri };
}

/** The origins of the auth server's upstreams: where a URL with a path (an issuer) points, its scheme and host. */
function upstreamOrigins(urls: readonly string[]): string[] {
  return urls
    .map((u) => u.trim())
    .filter((u) => u !== '')
    .map((u, i) => {
      const url = URL.canParse(u) ? new URL(u) : undefined;
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        throw new SettingsError(
          `invalid --auth-server-upstreams (GATEWAY_AUTH_SERVER_UPSTREAMS): entry ${i + 1} is not an http(s) URL like http://localhost:9999`,
        );
      }
      return url.origin;
    });
}

/** Shortest secret (bearer token, Basic password) of --admin-auth with NODE_ENV=production, as the auth server's. */
export const MIN_PRODUCTION_SECRET = 16;

/**
 * A production admin credential must not be guessable: the route API hands out the edge. Development's credential is
 * made per run (`trellis up`) or chosen for a test, so any length goes there.
 */
function checkAdminAuth(credential: Credential | undefined, production: boolean): void {
  if (credential === undefined || !production) return;
  const secret = credential.scheme === 'bearer' ? credential.token : credential.password;
  if (secret.length < MIN_PRODUCTION_SECRET) {
    const part = credential.scheme === 'bearer' ? 'token' : 'password';
    throw new SettingsError(
      `--admin-auth (GATEWAY_ADMIN_AUTH): with NODE_ENV=production the ${part} must have at least ${MIN_PRODUCTION_SECRET} characters`,
    );
  }
}

/**
 * Checks settings that only make sense together and against the environment (`NODE_ENV`), and shapes them for the
 * gateway's parts.
 */
export function gatewayConfig(
  s: GatewaySettings,
  env: Readonly<Record<string, string | undefined>> = {},
): Readonly<GatewayConfig> {
  checkAdminAuth(s.adminAuth, env.NODE_ENV === 'production');
  const audience = s.audience ?? [];
  if (s.issuer !== undefined && audience.length === 0) {
    throw new SettingsError('--issuer (GATEWAY_ISSUER) needs --audience (GATEWAY_AUDIENCE): the aud tokens must carry');
  }
  const registryUrl = s.registryUrl
    ?.split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  for (const [i, url] of (registryUrl ?? []).entries()) {
    // Not the URL itself: it may carry the registry's credential as user info.
    if (!URL.canParse(url)) {
      throw new SettingsError(
        `invalid --registry-url (GATEWAY_REGISTRY_URL): entry ${i + 1} is not a URL like http://[user:password@]host:8761/eureka/`,
      );
    }
  }
  if (s.rateLimitRedisUrl !== undefined) {
    // The URL may carry a password: never echo it.
    const scheme = URL.canParse(s.rateLimitRedisUrl) ? new URL(s.rateLimitRedisUrl).protocol : '';
    if (scheme !== 'redis:' && scheme !== 'rediss:') {
      throw new SettingsError(
        'invalid --rate-limit-redis-url (GATEWAY_RATE_LIMIT_REDIS_URL): expected redis://[user:password@]host[:port][/db] or rediss://…',
      );
    }
  }
  const introspect = introspection(s);
  const authServerUpstreams = upstreamOrigins(s.authServerUpstreams ?? (s.issuer === undefined ? [] : [s.issuer]));
  const maxRequestSize = parseDataSize(s.maxRequestSize);
  if (maxRequestSize === undefined) {
    throw new SettingsError(
      `invalid --max-request-size (GATEWAY_MAX_REQUEST_SIZE): ${JSON.stringify(s.maxRequestSize)} is not a size like 5000000 or 5MB`,
    );
  }
  const trustedProxies = (s.trustedProxies ?? []).map((p) => p.trim());
  try {
    parseTrustedProxies(trustedProxies);
  } catch (err) {
    throw new SettingsError(`invalid --trusted-proxies (GATEWAY_TRUSTED_PROXIES): ${(err as Error).message}`);
  }
  return Object.freeze({
    dataDir: s.dataDir,
    host: s.host,
    allowedHosts: s.allowedHosts,
    healthShowDetails: s.healthShowDetails,
    observability: observabilityOf(s),
    port: s.port,
    httpsPort: s.httpOnly ? undefined : s.httpsPort,
    tls: {
      ...(s.certFile === undefined ? {} : { certFile: s.certFile }),
      ...(s.keyFile === undefined ? {} : { keyFile: s.keyFile }),
      ...(s.caFile === undefined ? {} : { caFile: s.caFile }),
      ...(s.tlsHostnames === undefined ? {} : { hostnames: s.tlsHostnames }),
    },
    routesFile: s.routesFile,
    configServer: s.configUri === undefined ? undefined : { uri: s.configUri, profiles: s.profiles },
    rateLimitRedisUrl: s.rateLimitRedisUrl,
    upstreamCaFile: s.upstreamCaFile,
    registryUrl: registryUrl === undefined || registryUrl.length === 0 ? undefined : registryUrl,
    tokens:
      s.issuer === undefined
        ? undefined
        : { issuer: s.issuer, audience, jwksUri: s.jwksUri, introspection: introspect },
    requireTokens: s.issuer !== undefined && s.defaultAuth === 'token',
    connectTimeoutMs: s.connectTimeoutMs,
    responseTimeoutMs: s.responseTimeoutMs,
    maxRequestSize: maxRequestSize === 0 ? undefined : maxRequestSize,
    trustedProxies,
    proxySecret: s.proxySecret,
    authServerUpstreams,
    maxInFlightPerClient: s.maxInFlightPerClient === 0 ? undefined : s.maxInFlightPerClient,
    adminAuth: s.adminAuth,
    maxRoutes: s.maxRoutes,
    apiDocs: apiDocsEnabled(s.apiDocs, env),
    connections: { headersTimeoutMs: s.headersTimeoutMs, idleTimeoutMs: s.idleTimeoutMs, max: s.maxConnections },
  });
}

/** Reads the process's flags and environment (or the given ones, in tests). */
export function loadConfig(
  source: SettingsSource = { argv: process.argv.slice(2), env: process.env },
): Readonly<GatewayConfig> {
  return gatewayConfig(loadSettings(gatewaySettings(), source), source.env);
}
