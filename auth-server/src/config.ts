// The auth server's settings and the Config checked from them: the only reader of its environment.
import {
  apiDocsEnabled,
  commonSettings,
  loadSettings,
  parseTrustedProxies,
  setting,
  SettingsError,
  type Settings,
  type TrustedProxies,
  workersSetting,
} from '@trellis/kit';
import {
  DEFAULT_REDIRECT_HOSTS,
  DEFAULT_REGISTRATION_AUTH_METHODS,
  DEFAULT_REGISTRATION_GRANT_TYPES,
  defaultRegistrationScopes,
  type RegistrationPolicy,
} from './oauth-clients/registration-policy.ts';
import { AUTH_METHODS, GRANT_TYPES } from './oauth-clients/store.ts';
import { checkDatabaseUrl } from './store/database-url.ts';

/** The auth server's settings: flags, then environment variables, then defaults. */
export function authServerSettings() {
  return {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: 'AUTH_SERVER_PORT', default: 9999, help: 'HTTP port' }),
    workers: workersSetting(),
    issuer: setting.url({
      flag: 'issuer',
      env: 'AUTH_ISSUER',
      help: 'public URL of the auth server, the `iss` of its tokens (default http://localhost:<port>)',
    }),
    resource: setting.string({
      flag: 'resource',
      env: 'AUTH_RESOURCE',
      default: 'product-api',
      help: 'audience (`aud`) of JWT access tokens for the default API',
    }),
    resourceScopes: setting.list({
      flag: 'resource-scopes',
      env: 'AUTH_RESOURCE_SCOPES',
      default: ['product:read', 'product:write'],
      help: 'scopes of the default API',
    }),
    signingAlg: setting.choice(['RS256', 'ES256'], {
      flag: 'signing-alg',
      env: 'AUTH_SIGNING_ALG',
      default: 'RS256',
      help: 'algorithm of signing keys (a change makes a new key at start)',
    }),
    accessTokenTtl: setting.integer({
      flag: 'access-token-ttl',
      env: 'AUTH_ACCESS_TOKEN_TTL',
      default: 300,
      min: 10,
      max: 86_400,
      help: 'access token lifetime in seconds',
    }),
    refreshTokenTtl: setting.integer({
      flag: 'refresh-token-ttl',
      env: 'AUTH_REFRESH_TOKEN_TTL',
      default: 14 * 86_400,
      min: 60,
      max: 365 * 86_400,
      help: 'refresh token (and grant) lifetime in seconds',
    }),
    databaseUrl: setting.string({
      flag: 'database-url',
      env: 'TRELLIS_DATABASE_URL',
      secret: true,
      help: 'postgres://user:password@host:5432/db keeps clients, users, keys and tokens in PostgreSQL, shared by several auth servers of one issuer (same --key-encryption-key); unset: SQLite in the data dir',
    }),
    keyEncryptionKey: setting.string({
      flag: 'key-encryption-key',
      env: 'AUTH_KEY_ENCRYPTION_KEY',
      secret: true,
      help: 'secret that encrypts signing keys and peppers client secrets (default: <data-dir>/auth-master.key, mode 600)',
    }),
    adminToken: setting.string({
      flag: 'admin-token',
      env: 'AUTH_ADMIN_TOKEN',
      secret: true,
      help: 'Bearer credential of /admin/clients (development: derived and printed; production: admin API off when unset)',
    }),
    registrationToken: setting.string({
      flag: 'registration-token',
      env: 'AUTH_REGISTRATION_TOKEN',
      secret: true,
      help: 'initial access token of RFC 7591 dynamic client registration (POST /oauth2/register); registration is off when unset',
    }),
    registrationScopes: setting.list({
      flag: 'registration-scopes',
      env: 'AUTH_REGISTRATION_SCOPES',
      help: 'scopes dynamically registered clients may have (default: openid profile email offline_access and the read-only resource scopes, *:read)',
    }),
    registrationRedirectHosts: setting.list({
      flag: 'registration-redirect-hosts',
      env: 'AUTH_REGISTRATION_REDIRECT_HOSTS',
      default: [...DEFAULT_REDIRECT_HOSTS],
      help: 'hosts redirect URIs of dynamically registered clients may point to (https; http only for loopback); *.example.org for subdomains',
    }),
    registrationGrantTypes: setting.list({
      flag: 'registration-grant-types',
      env: 'AUTH_REGISTRATION_GRANT_TYPES',
      default: [...DEFAULT_REGISTRATION_GRANT_TYPES],
      help: 'grant types dynamically registered clients may use',
    }),
    registrationAuthMethods: setting.list({
      flag: 'registration-auth-methods',
      env: 'AUTH_REGISTRATION_AUTH_METHODS',
      default: [...DEFAULT_REGISTRATION_AUTH_METHODS],
      help: 'token endpoint authentication methods dynamically registered clients may use',
    }),
    introspectionClients: setting.list({
      flag: 'introspection-clients',
      env: 'AUTH_INTROSPECTION_CLIENTS',
      default: [],
      help: "confidential clients that may introspect any client's tokens (resource servers, the gateway); others only their own (development: also the seeded gateway client)",
    }),
    seedDevClients: setting.boolean({
      flag: 'seed-dev-clients',
      env: 'AUTH_SEED_DEV_CLIENTS',
      help: 'register the development clients reader and writer (secrets printed) and gateway (secret handed to the gateway); default: on in the data dir, off in a --database-url database (which production instances may share: asked for explicitly only); refused with NODE_ENV=production',
    }),
    trustedProxies: setting.list({
      flag: 'trusted-proxies',
      env: 'AUTH_TRUSTED_PROXIES',
      help: 'IPs or CIDR ranges whose X-Forwarded-For is believed (e.g. the gateway); none when unset',
    }),
    trustedProxySecret: setting.string({
      flag: 'trusted-proxy-secret',
      env: 'AUTH_TRUSTED_PROXY_SECRET',
      secret: true,
      help: "secret a trusted proxy must also send (x-trellis-proxy-secret; the gateway's GATEWAY_PROXY_SECRET) for its X-Forwarded-For to count; unset: the address alone decides",
    }),
    cleanupInterval: setting.integer({
      flag: 'cleanup-interval',
      env: 'AUTH_CLEANUP_INTERVAL',
      default: 60,
      min: 1,
      max: 86_400,
      help: 'seconds between sweeps of expired tokens, sessions and interactions',
    }),
    credentialLockout: setting.integer({
      flag: 'credential-lockout',
      env: 'AUTH_CREDENTIAL_LOCKOUT',
      default: 30,
      min: 1,
      max: 900,
      help: 'seconds a source is locked out after 10 wrong secrets, passwords, codes or tokens; each further failure doubles it, up to 15 minutes',
    }),
  };
}

export type AuthServerSettings = Settings<ReturnType<typeof authServerSettings>>;

export interface Config extends AuthServerSettings {
  /** Whether to seed them: as asked, or by default only into the data dir (see {@link checkConfig}). */
  readonly seedDevClients: boolean;
  /** Why the development clients were not seeded although nobody said not to: a note to print at start. */
  readonly devClientsNote: string | undefined;
  readonly production: boolean;
  readonly proxies: TrustedProxies | undefined;
  readonly registrationPolicy: RegistrationPolicy;
  /** Whether /v3/api-docs and Swagger UI are served: --api-docs, by default on except with NODE_ENV=production. */
  readonly apiDocs: boolean;
}

/**
 * Checks the settings against each other and against the environment (`NODE_ENV`). Errors name the flag and
 * variable, never a secret.
 */
export function checkConfig(
  settings: AuthServerSettings,
  env: Readonly<Record<string, string | undefined>> = {},
): Readonly<Config> {
  const production = env.NODE_ENV === 'production';
  // Unset counts as on here, as it always did: production must say it wants none.
  if (production && settings.seedDevClients !== false) {
    throw new SettingsError(
      'development clients are refused with NODE_ENV=production; set AUTH_SEED_DEV_CLIENTS=false and register clients with the admin API',
    );
  }
  if (settings.resource.trim() === '' || /\s/.test(settings.resource)) {
    throw new SettingsError('invalid --resource (AUTH_RESOURCE): must be one word, e.g. product-api');
  }
  if (settings.resourceScopes.length === 0) {
    throw new SettingsError('--resource-scopes (AUTH_RESOURCE_SCOPES) needs at least one scope');
  }
  if (settings.adminToken !== undefined && settings.adminToken.length < 16) {
    throw new SettingsError('--admin-token (AUTH_ADMIN_TOKEN) must have at least 16 characters');
  }
  if (settings.registrationToken !== undefined && settings.registrationToken.length < 16) {
    throw new SettingsError('--registration-token (AUTH_REGISTRATION_TOKEN) must have at least 16 characters');
  }
  if (settings.trustedProxySecret !== undefined && settings.trustedProxySecret.length < 16) {
    throw new SettingsError('--trusted-proxy-secret (AUTH_TRUSTED_PROXY_SECRET) must have at least 16 characters');
  }
  if (settings.issuer !== undefined) checkIssuer(settings.issuer);
  checkDatabaseUrl(settings.databaseUrl);
  let proxies: TrustedProxies | undefined;
  if (settings.trustedProxies !== undefined && settings.trustedProxies.length > 0) {
    try {
      proxies = parseTrustedProxies(settings.trustedProxies);
    } catch (err) {
      throw new SettingsError(`invalid --trusted-proxies (AUTH_TRUSTED_PROXIES): ${(err as Error).message}`);
    }
  }
  // A PostgreSQL database may be shared with production instances, which would honour the printed secrets (writer
  // holds product:write): seeded there only when asked for by name, never by development's default.
  const sharedDatabase = settings.databaseUrl !== undefined && settings.databaseUrl !== '';
  const seedDevClients = settings.seedDevClients ?? !sharedDatabase;
  const devClientsNote =
    settings.seedDevClients === undefined && sharedDatabase
      ? 'auth-server: development clients (reader, writer, gateway) not seeded into the PostgreSQL database, which other instances may share: pass --seed-dev-clients (AUTH_SEED_DEV_CLIENTS=true) to seed them there; without them the gateway gets no introspection client and no token command is suggested'
      : undefined;
  return Object.freeze({
    ...settings,
    seedDevClients,
    devClientsNote,
    production,
    proxies,
    registrationPolicy: registrationPolicy(settings),
    apiDocs: apiDocsEnabled(settings.apiDocs, env),
  });
}

/**
 * The issuer must be an origin. Every endpoint lives at /oauth2/... of the origin (the gateway's one /oauth2/** route
 * reaches them) and the provider would publish an issuer path it does not serve under, so tokens would carry an
 * `iss` whose discovery document (RFC 8414 §3: under the path) does not exist. Refusing is simpler and safer than
 * serving under a prefix behind proxies that may or may not strip it. User info would be published in discovery.
 */
function checkIssuer(issuer: string): void {
  const url = new URL(issuer);
  const problem =
    url.username !== '' || url.password !== ''
      ? 'must not carry user info'
      : url.pathname !== '/'
        ? `must be an origin without a path (got path ${url.pathname}); the endpoints are served at /oauth2/... of it`
        : url.search !== '' || url.hash !== ''
          ? 'must not have a query or fragment'
          : undefined;
  if (problem !== undefined) {
    throw new SettingsError(`invalid --issuer (AUTH_ISSUER): ${problem}, e.g. https://auth.example.org`);
  }
}

/** Each of `given` as one of `known`, or a SettingsError naming the setting and the values it takes. */
function knownValues<T extends string>(given: readonly string[], known: readonly T[], setting: string): T[] {
  return given.map((value) => {
    const found = known.find((k) => k === value);
    if (found === undefined) {
      throw new SettingsError(`invalid ${setting}: ${JSON.stringify(value)} is not one of ${known.join(', ')}`);
    }
    return found;
  });
}

const HOST_ENTRY = /^(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/i;

function registrationPolicy(settings: AuthServerSettings): RegistrationPolicy {
  const scopes = settings.registrationScopes ?? defaultRegistrationScopes(settings.resourceScopes);
  const grantTypes = knownValues(
    settings.registrationGrantTypes,
    GRANT_TYPES,
    '--registration-grant-types (AUTH_REGISTRATION_GRANT_TYPES)',
  );
  const authMethods = knownValues(
    settings.registrationAuthMethods,
    AUTH_METHODS,
    '--registration-auth-methods (AUTH_REGISTRATION_AUTH_METHODS)',
  );
  const badHost = settings.registrationRedirectHosts.find((h) => !HOST_ENTRY.test(h));
  if (badHost !== undefined) {
    throw new SettingsError(
      `invalid --registration-redirect-hosts (AUTH_REGISTRATION_REDIRECT_HOSTS): ${JSON.stringify(badHost)} is not a host name, *.domain or [IPv6]`,
    );
  }
  return Object.freeze({
    scopes: Object.freeze([...scopes]),
    redirectHosts: Object.freeze(settings.registrationRedirectHosts.map((h) => h.toLowerCase())),
    grantTypes: Object.freeze(grantTypes),
    authMethods: Object.freeze(authMethods),
  });
}

/**
 * Reads the settings from flags and environment (the only place the auth server reads `process.env`).
 *
 * @example
 * const config = loadConfig(process.env, ['--port', '0']);
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  argv: readonly string[] = [],
): Readonly<Config> {
  return checkConfig(loadSettings(authServerSettings(), { env, argv }), env);
}
