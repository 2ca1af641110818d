// The config server's settings, Spring's property names as flags and variables; the only reader of process.env.
import {
  apiDocsEnabled,
  commonSettings,
  isPostgresUrl,
  loadSettings,
  parseTrustedProxies,
  setting,
  SettingsError,
  type Settings,
  type SettingSpec,
  type TrustedProxies,
} from '@trellis/kit';
import { tlsSettings } from '@trellis/kit/tls';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClientsSyntaxError, parseClients } from './access/clients.ts';
import { OverridesSyntaxError, parseOverrides } from './overrides.ts';

// `sqlite` and `jdbc` are the same backend (Spring's JDBC model, with the write API) kept in a SQLite file or in the
// database --database-url names; one of them at a time.
export const BACKEND_KINDS = ['native', 'git', 'sqlite', 'jdbc'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export const KEY_STORE_TYPES = ['jks', 'pkcs12'] as const;
export type KeyStoreType = (typeof KEY_STORE_TYPES)[number];

/** `encrypt.key-store.type`: Java's type names are case-insensitive (`JKS`, `PKCS12`), so ours are too. */
const keyStoreType: SettingSpec<KeyStoreType, true> = {
  flag: 'encrypt-key-store-type',
  env: 'ENCRYPT_KEY_STORE_TYPE',
  default: 'jks',
  accepts: 'jks or pkcs12',
  help: 'key store type, jks or pkcs12 (Spring encrypt.key-store.type); either format is read whatever the type, as Java does',
  parse: (raw) => {
    const type = KEY_STORE_TYPES.find((t) => t === raw.trim().toLowerCase());
    if (type === undefined) throw new Error('not a key store type');
    return type;
  },
};

/**
 * The config server's settings. Spring's property names work as environment variables (`ENCRYPT_KEY`,
 * `ENCRYPT_SALT`, `ENCRYPT_RSA_*`, `ENCRYPT_KEY_STORE_*`), so a Spring config server's settings carry over.
 */
export function configServerSettings() {
  return {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: 'CONFIG_SERVER_PORT', default: 8888, help: 'HTTPS (or --http) port' }),
    repo: setting.string({
      flag: 'repo',
      env: 'CONFIG_REPO',
      default: './config-repo',
      help: 'native backend: directory of {app}[-{profile}].yml|yaml|properties files, {label}/ sub-directories',
    }),
    defaultLabel: setting.string({
      flag: 'default-label',
      env: 'CONFIG_DEFAULT_LABEL',
      default: 'main',
      help: 'label served when a client names none (needs no sub-directory)',
    }),
    http: setting.boolean({
      flag: 'http',
      env: 'CONFIG_SERVER_HTTP',
      default: false,
      help: 'serve plain HTTP on loopback instead of HTTPS (development only)',
    }),
    ...tlsSettings('CONFIG_SERVER'),
    encryptKey: setting.string({
      flag: 'encrypt-key',
      env: 'ENCRYPT_KEY',
      secret: true,
      help: 'symmetric password, or an RSA private key PEM (Spring encrypt.key)',
    }),
    encryptKeyFile: setting.string({
      flag: 'encrypt-key-file',
      env: 'ENCRYPT_KEY_FILE',
      help: 'file holding the encrypt key (password or PEM); must be mode 600',
    }),
    encryptSalt: setting.string({
      flag: 'encrypt-salt',
      env: 'ENCRYPT_SALT',
      help: 'hex salt of the symmetric key (default deadbeef)',
    }),
    keyStoreLocation: setting.string({
      flag: 'encrypt-key-store-location',
      env: 'ENCRYPT_KEY_STORE_LOCATION',
      help: 'JKS or PKCS12 key store with the RSA key pairs, a path or file:path (Spring encrypt.key-store.location); {key:alias} picks an entry',
    }),
    keyStorePassword: setting.string({
      flag: 'encrypt-key-store-password',
      env: 'ENCRYPT_KEY_STORE_PASSWORD',
      secret: true,
      help: 'password of the key store (encrypt.key-store.password); prefer the variable, flags show in ps',
    }),
    keyStoreAlias: setting.string({
      flag: 'encrypt-key-store-alias',
      env: 'ENCRYPT_KEY_STORE_ALIAS',
      help: 'key store entry for new values and for values without {key:…} (encrypt.key-store.alias; default: the only key entry)',
    }),
    keyStoreSecret: setting.string({
      flag: 'encrypt-key-store-secret',
      env: 'ENCRYPT_KEY_STORE_SECRET',
      secret: true,
      help: 'password of the key entries (encrypt.key-store.secret; default: the store password); {secret:…} unlocks others',
    }),
    keyStoreType,
    rsaAlgorithm: setting.choice(['DEFAULT', 'OAEP'], {
      env: 'ENCRYPT_RSA_ALGORITHM',
      help: 'RSA padding for an RSA key (Spring encrypt.rsa.algorithm; default DEFAULT)',
    }),
    rsaStrong: setting.boolean({
      env: 'ENCRYPT_RSA_STRONG',
      help: 'AES/GCM payloads for an RSA key (encrypt.rsa.strong)',
    }),
    rsaSalt: setting.string({
      env: 'ENCRYPT_RSA_SALT',
      help: 'salt for an RSA key (encrypt.rsa.salt; default deadbeef)',
    }),
    clients: setting.string({
      flag: 'clients',
      env: 'CONFIG_CLIENTS',
      secret: true,
      help: 'credentials "id:secret:app1,app2;id2:secret2:*" (Basic id:secret, Bearer or X-Config-Token secret); open when unset',
    }),
    allowOpen: setting.boolean({
      flag: 'allow-open',
      env: 'CONFIG_ALLOW_OPEN',
      default: false,
      help: 'start without --clients (CONFIG_CLIENTS) even with NODE_ENV=production: anyone reaching the port reads every application, decrypted, and uses /decrypt (only where a network boundary alone decides who may)',
    }),
    backends: setting.list({
      flag: 'backends',
      env: 'CONFIG_BACKENDS',
      help: 'backends in order, the first one winning: native, git, sqlite or jdbc (PostgreSQL at --database-url) (default: git when --git-uri is set, else native)',
    }),
    gitUri: setting.string({
      flag: 'git-uri',
      env: ['CONFIG_GIT_URI', 'SPRING_CLOUD_CONFIG_SERVER_GIT_URI'],
      help: 'git backend: repository path or URL; {application} makes one repository per application',
    }),
    gitSearchPaths: setting.list({
      flag: 'git-search-paths',
      env: ['CONFIG_GIT_SEARCH_PATHS', 'SPRING_CLOUD_CONFIG_SERVER_GIT_SEARCH_PATHS'],
      help: 'git backend: directories searched besides the root, later ones winning; {application} and {profile} allowed',
    }),
    gitRefreshRate: setting.integer({
      flag: 'git-refresh-rate',
      env: ['CONFIG_GIT_REFRESH_RATE', 'SPRING_CLOUD_CONFIG_SERVER_GIT_REFRESH_RATE'],
      min: 1,
      max: 86_400,
      default: 30,
      help: 'git backend: seconds between background fetches (requests never wait for a fetch)',
    }),
    gitTimeout: setting.integer({
      flag: 'git-timeout',
      env: ['CONFIG_GIT_TIMEOUT', 'SPRING_CLOUD_CONFIG_SERVER_GIT_TIMEOUT'],
      min: 1,
      max: 600,
      default: 5,
      help: 'git backend: seconds one fetch or read may take (a clone gets 6 times as long)',
    }),
    watchMaxStreams: setting.integer({
      flag: 'watch-max-streams',
      env: 'CONFIG_WATCH_MAX_STREAMS',
      min: 1,
      max: 100_000,
      default: 1000,
      help: 'most watch streams (GET /watch/...) open at once; more are refused with 503 and Retry-After',
    }),
    watchMaxStreamsPerClient: setting.integer({
      flag: 'watch-max-streams-per-client',
      env: 'CONFIG_WATCH_MAX_STREAMS_PER_CLIENT',
      min: 1,
      max: 100_000,
      default: 100,
      help: 'most watch streams open at once for one client credential (or one address when CONFIG_CLIENTS is unset)',
    }),
    watchWriteTimeout: setting.integer({
      flag: 'watch-write-timeout',
      env: 'CONFIG_WATCH_WRITE_TIMEOUT',
      min: 1,
      max: 3600,
      default: 60,
      help: 'seconds a watch stream may wait for its client to read before it is cut',
    }),
    sqliteFile: setting.string({
      flag: 'sqlite-file',
      env: 'CONFIG_SQLITE_FILE',
      help: 'sqlite backend: database file (default <data-dir>/config.sqlite)',
    }),
    sqliteDefaultLabel: setting.string({
      flag: 'sqlite-default-label',
      env: 'CONFIG_SQLITE_DEFAULT_LABEL',
      default: 'master',
      help: "sqlite and jdbc backends: label served when a client names none (Spring's JDBC default)",
    }),
    databaseUrl: setting.string({
      flag: 'database-url',
      env: 'TRELLIS_DATABASE_URL',
      secret: true,
      help: 'jdbc backend: PostgreSQL database postgres://user:password@host:port/db, shared by several config servers; prefer the variable, flags show in ps',
    }),
    admins: setting.string({
      flag: 'admins',
      env: 'CONFIG_ADMINS',
      secret: true,
      help: 'sqlite/jdbc write API credentials "id:secret:app1,app2;id2:secret2:*"; the write API is off when unset',
    }),
    overrides: setting.string({
      flag: 'overrides',
      env: 'CONFIG_OVERRIDES',
      secret: true,
      help: 'values served first to every client, "key=value,key2=value2" (\\, for a comma in a value)',
    }),
    overridesFile: setting.string({
      flag: 'overrides-file',
      env: 'CONFIG_OVERRIDES_FILE',
      help: 'a YAML or .properties file of overrides (CONFIG_OVERRIDES wins over it)',
    }),
    maxCredentialFailures: setting.integer({
      flag: 'max-credential-failures',
      env: 'CONFIG_MAX_CREDENTIAL_FAILURES',
      min: 1,
      max: 1_000_000,
      default: 10,
      help: 'wrong credentials one address may present for one name (twice as many across names) before it is locked out, doubling from 30 s; raise it only where many clients share an address',
    }),
    trustedProxies: setting.list({
      flag: 'trusted-proxies',
      env: 'CONFIG_TRUSTED_PROXIES',
      help: "IPs or CIDR ranges whose X-Forwarded-For is believed (e.g. the gateway), for the failed-credential lockouts' source address; none when unset",
    }),
  };
}

export type ConfigServerSettings = Settings<ReturnType<typeof configServerSettings>>;

export interface ClientEntry {
  readonly id: string;
  readonly secret: string;
  readonly applications: readonly string[];
}

export interface Config extends ConfigServerSettings {
  /** Whether /v3/api-docs and Swagger UI are served: --api-docs, else on except with NODE_ENV=production. */
  readonly apiDocs: boolean;
  readonly clientEntries: readonly ClientEntry[] | undefined;
  /** The backends in order, defaults applied. */
  readonly backendKinds: readonly BackendKind[];
  readonly adminEntries: readonly ClientEntry[] | undefined;
  /** Parsed `CONFIG_OVERRIDES`; the file, when set, is read at start. */
  readonly overrideValues: Readonly<Record<string, string>>;
  /** The SQLite file, defaulted into the data directory. */
  readonly sqlitePath: string;
  /** `--encrypt-key-store-location` as a file path (`file:` removed); undefined without a key store. */
  readonly keyStorePath: string | undefined;
  /** Peers whose X-Forwarded-For names the client; undefined: none, the socket's peer is the source. */
  readonly proxies: TrustedProxies | undefined;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const KEY_STORE_LOCATION = '--encrypt-key-store-location (ENCRYPT_KEY_STORE_LOCATION)';

/**
 * Spring reads `encrypt.key-store.location` as a resource location. Outside a JVM only files make sense: a plain path,
 * `file:path` or `file:///path`. `classpath:` and URLs are refused by name rather than read as odd relative paths.
 */
export function keyStorePathOf(location: string): string {
  const trimmed = location.trim();
  if (/^file:/i.test(trimmed)) {
    const rest = trimmed.slice('file:'.length);
    let path = rest;
    if (rest.startsWith('//')) {
      try {
        path = fileURLToPath(`file:${rest}`);
      } catch {
        throw new SettingsError(`${KEY_STORE_LOCATION}: ${JSON.stringify(location)} is not a valid file: URL`);
      }
    }
    if (path === '') throw new SettingsError(`${KEY_STORE_LOCATION}: file: names no file`);
    return path;
  }
  // A scheme of two letters or more; a single letter is a Windows drive (C:\keys\server.jks).
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(trimmed);
  if (scheme !== null) {
    throw new SettingsError(
      `${KEY_STORE_LOCATION}: ${scheme[1]}: locations cannot be read here (there is no Java classpath); give a file path, optionally as file:path`,
    );
  }
  if (trimmed === '') throw new SettingsError(`${KEY_STORE_LOCATION} is empty`);
  return trimmed;
}

/**
 * The key store settings only make sense together; say which one is missing or in the way. With a key store, an
 * ENCRYPT_KEY as well is ignored (main.ts warns), as Spring does, so a Spring server's settings carry over.
 */
function checkKeyStore(settings: ConfigServerSettings): string | undefined {
  if (settings.keyStoreLocation === undefined) {
    const stray = (
      [
        ['keyStorePassword', '--encrypt-key-store-password (ENCRYPT_KEY_STORE_PASSWORD)'],
        ['keyStoreAlias', '--encrypt-key-store-alias (ENCRYPT_KEY_STORE_ALIAS)'],
        ['keyStoreSecret', '--encrypt-key-store-secret (ENCRYPT_KEY_STORE_SECRET)'],
      ] as const
    ).find(([key]) => settings[key] !== undefined);
    if (stray !== undefined) throw new SettingsError(`${stray[1]} is set but ${KEY_STORE_LOCATION} is not`);
    return undefined;
  }
  if (settings.keyStorePassword === undefined) {
    throw new SettingsError(`${KEY_STORE_LOCATION} needs --encrypt-key-store-password (ENCRYPT_KEY_STORE_PASSWORD)`);
  }
  if (settings.keyStoreAlias?.includes('}') === true) {
    throw new SettingsError('--encrypt-key-store-alias (ENCRYPT_KEY_STORE_ALIAS) must not contain "}"');
  }
  return keyStorePathOf(settings.keyStoreLocation);
}

/**
 * Checks the settings against each other and parses the credential list. Errors name the flag and variable, never
 * a secret. With NODE_ENV=production (in `env`) the server never starts open by accident, as the registry does not:
 * without client credentials anyone reaching it reads every decrypted secret and runs /decrypt.
 */
export function checkConfig(
  settings: ConfigServerSettings,
  env: Readonly<Record<string, string | undefined>> = {},
): Readonly<Config> {
  if (settings.encryptKey !== undefined && settings.encryptKeyFile !== undefined) {
    throw new SettingsError(
      'set either --encrypt-key (ENCRYPT_KEY) or --encrypt-key-file (ENCRYPT_KEY_FILE), not both',
    );
  }
  const keyStorePath = checkKeyStore(settings);
  if ((settings.certFile === undefined) !== (settings.keyFile === undefined)) {
    throw new SettingsError(
      '--cert-file (CONFIG_SERVER_CERT_FILE) and --key-file (CONFIG_SERVER_KEY_FILE) go together',
    );
  }
  if (settings.http && settings.certFile !== undefined) {
    throw new SettingsError('--http (CONFIG_SERVER_HTTP) turns TLS off; drop it or drop --cert-file');
  }
  // Secrets never travel in clear: plain HTTP only where nothing but this machine can listen in.
  if (settings.http && settings.host !== undefined && !LOOPBACK.has(settings.host)) {
    throw new SettingsError(`--http (CONFIG_SERVER_HTTP) is allowed on loopback only, not on --host ${settings.host}`);
  }
  let clientEntries: ClientEntry[] | undefined;
  if (settings.clients !== undefined) {
    try {
      clientEntries = parseClients(settings.clients);
    } catch (err) {
      if (err instanceof ClientsSyntaxError) throw new SettingsError(`invalid --clients: ${err.message}`);
      throw err;
    }
  }
  if (env.NODE_ENV === 'production' && clientEntries === undefined && !settings.allowOpen) {
    throw new SettingsError(
      'with NODE_ENV=production the config server needs --clients (CONFIG_CLIENTS); set --allow-open (CONFIG_ALLOW_OPEN) only if a network boundary alone decides who may read every application and use /decrypt',
    );
  }
  const backendKinds = settings.backends ?? (settings.gitUri === undefined ? ['native'] : ['git']);
  if (backendKinds.length === 0) throw new SettingsError('--backends (CONFIG_BACKENDS) names no backend');
  for (const kind of backendKinds) {
    if (!(BACKEND_KINDS as readonly string[]).includes(kind)) {
      throw new SettingsError(
        `--backends (CONFIG_BACKENDS): unknown backend ${JSON.stringify(kind)}; use ${BACKEND_KINDS.join(', ')}`,
      );
    }
  }
  if (new Set(backendKinds).size !== backendKinds.length) {
    throw new SettingsError('--backends (CONFIG_BACKENDS) names a backend twice');
  }
  if (backendKinds.includes('git') && settings.gitUri === undefined) {
    throw new SettingsError('the git backend needs --git-uri (CONFIG_GIT_URI)');
  }
  if (backendKinds.includes('sqlite') && backendKinds.includes('jdbc')) {
    throw new SettingsError(
      '--backends (CONFIG_BACKENDS): sqlite and jdbc are one backend in two databases; name one of them',
    );
  }
  // Checked even when jdbc is not listed: the variable may be shared by a landscape, and a wrong one should show.
  if (settings.databaseUrl !== undefined && !isPostgresUrl(settings.databaseUrl)) {
    // The value may hold a password: named, never shown.
    throw new SettingsError('--database-url (TRELLIS_DATABASE_URL) must be a postgres:// or postgresql:// URL');
  }
  if (backendKinds.includes('jdbc') && settings.databaseUrl === undefined) {
    throw new SettingsError(
      'the jdbc backend needs --database-url (TRELLIS_DATABASE_URL) postgres://…; for a SQLite file use sqlite',
    );
  }
  let adminEntries: ClientEntry[] | undefined;
  if (settings.admins !== undefined) {
    if (!backendKinds.includes('sqlite') && !backendKinds.includes('jdbc')) {
      throw new SettingsError(
        '--admins (CONFIG_ADMINS) is for the sqlite or jdbc write API; add sqlite or jdbc to --backends',
      );
    }
    try {
      adminEntries = parseClients(settings.admins);
    } catch (err) {
      if (err instanceof ClientsSyntaxError) {
        throw new SettingsError(`invalid --admins: ${err.message.replaceAll('CONFIG_CLIENTS', 'CONFIG_ADMINS')}`);
      }
      throw err;
    }
  }
  let overrideValues: Record<string, string> = {};
  if (settings.overrides !== undefined) {
    try {
      overrideValues = parseOverrides(settings.overrides);
    } catch (err) {
      if (err instanceof OverridesSyntaxError)
        throw new SettingsError(`invalid --overrides (CONFIG_OVERRIDES): ${err.message}`);
      throw err;
    }
  }
  let proxies: TrustedProxies | undefined;
  if (settings.trustedProxies !== undefined && settings.trustedProxies.length > 0) {
    try {
      proxies = parseTrustedProxies(settings.trustedProxies);
    } catch (err) {
      throw new SettingsError(`invalid --trusted-proxies (CONFIG_TRUSTED_PROXIES): ${(err as Error).message}`);
    }
  }
  return Object.freeze({
    ...settings,
    apiDocs: apiDocsEnabled(settings.apiDocs, env),
    proxies,
    clientEntries,
    backendKinds: backendKinds as BackendKind[],
    adminEntries,
    overrideValues,
    sqlitePath: settings.sqliteFile ?? join(settings.dataDir, 'config.sqlite'),
    keyStorePath,
  });
}

/**
 * Reads the settings from flags and environment (the only place the config server reads `process.env`).
 *
 * @example
 * const config = loadConfig(process.env, ['--port', '0', '--http']);
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  argv: readonly string[] = [],
): Readonly<Config> {
  return checkConfig(loadSettings(configServerSettings(), { env, argv }), env);
}
