// The registry's settings: the one place that declares what can be configured, with flags, variables, defaults and
// validation (the kit's loadSettings reads them from the command line and the environment).
import { join } from 'node:path';
import { asciiUpperCase } from '@trellis/clients/discovery';
import {
  apiDocsEnabled,
  commonSettings,
  loadSettings,
  parseScopedEntries,
  scopedCredentials,
  setting,
  SettingsError,
  type HealthShowDetails,
  type ScopedCredentials,
  type ScopedEntry,
  type SettingSpec,
  type Settings,
  type SettingsSource,
  observabilityOf,
  type ObservabilitySettings,
} from '@trellis/kit';
import { parseCredential } from './auth/credentials.ts';
import type { Credential } from './auth/credentials.ts';
import { parsePeerUrl } from './peers/peer-url.ts';
import type { PeerUrl } from './peers/peer-url.ts';
import { DEFAULT_MAX_WATCHERS, DEFAULT_MAX_WATCHERS_PER_ADDRESS } from './http/stream-slots.ts';
import { DEFAULT_LIMITS } from './registry/limits.ts';
import type { RegistrationLimits } from './registry/limits.ts';
import type { SelfPreservationSettings } from './registry/self-preservation.ts';

/** --peers: validated here so a typo names the flag; parsed into PeerUrls (with credentials) in registryConfig. */
function peersSetting(): SettingSpec<readonly string[], false> {
  return {
    flag: 'peers',
    env: 'REGISTRY_PEERS',
    // User info in a peer URL is a password: never echo the value in an error.
    secret: true,
    accepts: 'a comma-separated list of http(s) URLs of the other registry nodes (http://host:8762/eureka)',
    help: 'other registry nodes: every change is replicated to them, and the registry is copied from one on start',
    parse: (raw) => {
      const urls = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      for (const url of urls) parsePeerUrl(url, undefined);
      return urls;
    },
  };
}

function credentialSetting(o: { flag: string; env: string; help: string }): SettingSpec<Credential, false> {
  return { ...o, secret: true, accepts: 'basic:<user>:<password> or bearer:<token>', parse: parseCredential };
}

/** The registry component's settings (flags and environment variables). */
export function registrySettings() {
  return {
    ...commonSettings(),
    port: setting.port({ flag: 'port', env: 'REGISTRY_PORT', default: 8761, help: 'HTTP port of the registry' }),
    evictionIntervalMs: setting.integer({
      flag: 'eviction-interval-ms',
      env: 'REGISTRY_EVICTION_INTERVAL_MS',
      default: 5000,
      min: 100,
      max: 3_600_000,
      help: 'how often leases that ran out are looked for and removed',
    }),
    selfPreservation: setting.choice(['on', 'off'], {
      flag: 'self-preservation',
      env: 'REGISTRY_SELF_PRESERVATION',
      default: 'on',
      help: 'stop evicting when far fewer renewals arrive than expected (a network problem on the registry side)',
    }),
    selfPreservationMinInstances: setting.integer({
      flag: 'self-preservation-min-instances',
      env: 'REGISTRY_SELF_PRESERVATION_MIN_INSTANCES',
      default: 7,
      min: 1,
      help: 'self-preservation never engages with fewer established instances (7: losing one never triggers it)',
    }),
    renewalThresholdPercent: setting.integer({
      flag: 'renewal-threshold-percent',
      env: 'REGISTRY_RENEWAL_THRESHOLD_PERCENT',
      default: 85,
      min: 1,
      max: 100,
      help: 'share of expected renewals below which self-preservation engages; also caps evictions per sweep',
    }),
    restoreGraceSecs: setting.integer({
      flag: 'restore-grace-secs',
      env: 'REGISTRY_RESTORE_GRACE_SECS',
      min: 0,
      max: 86_400,
      help: 'seconds an instance restored after a restart has to renew before eviction (default: its lease duration)',
    }),
    peers: peersSetting(),
    peerSyncTimeoutMs: setting.integer({
      flag: 'peer-sync-timeout-ms',
      env: 'REGISTRY_PEER_SYNC_TIMEOUT_MS',
      default: 5000,
      min: 0,
      max: 120_000,
      help: 'longest the start-up copy of the registry from a peer may hold up the start',
    }),
    environment: setting.string({
      flag: 'environment',
      env: 'REGISTRY_ENVIRONMENT',
      default: 'development',
      help: 'name of the environment shown on the dashboard (Eureka: eureka.environment)',
    }),
    writeAuth: credentialSetting({
      flag: 'write-auth',
      env: 'REGISTRY_WRITE_AUTH',
      help: 'require these credentials to register, renew, cancel, change status or metadata, and replicate',
    }),
    clients: setting.string({
      flag: 'clients',
      env: 'REGISTRY_CLIENTS',
      secret: true,
      help: 'per-application write credentials "id:secret:APP1,APP2;ops:secret:*" (HTTP Basic id:secret): each may register, renew, cancel and change only instances of its applications; * as --write-auth',
    }),
    readAuth: credentialSetting({
      flag: 'read-auth',
      env: 'REGISTRY_READ_AUTH',
      help: 'require these credentials (or the write ones) to read the registry',
    }),
    allowOpenWrites: setting.boolean({
      flag: 'allow-open-writes',
      env: 'REGISTRY_ALLOW_OPEN_WRITES',
      default: false,
      help: 'start without --write-auth even with NODE_ENV=production (only where a network boundary alone decides who registers)',
    }),
    maxInstanceBytes: setting.integer({
      flag: 'max-instance-bytes',
      env: 'REGISTRY_MAX_INSTANCE_BYTES',
      default: DEFAULT_LIMITS.maxInstanceBytes,
      min: 1024,
      max: 1024 * 1024,
      help: 'largest registration body; larger ones are refused with 413',
    }),
    maxInstances: setting.integer({
      flag: 'max-instances',
      env: 'REGISTRY_MAX_INSTANCES',
      default: DEFAULT_LIMITS.maxInstances,
      min: 1,
      help: 'most instances held in all; registering one more is refused with 429',
    }),
    maxInstancesPerApp: setting.integer({
      flag: 'max-instances-per-app',
      env: 'REGISTRY_MAX_INSTANCES_PER_APP',
      default: DEFAULT_LIMITS.maxInstancesPerApp,
      min: 1,
      help: 'most instances held per application; registering one more is refused with 429',
    }),
    maxMetadataEntries: setting.integer({
      flag: 'max-metadata-entries',
      env: 'REGISTRY_MAX_METADATA_ENTRIES',
      default: DEFAULT_LIMITS.maxMetadataEntries,
      min: 0,
      help: 'most metadata entries per instance (registration or PUT …/metadata); more are refused with 413',
    }),
    maxMetadataBytes: setting.integer({
      flag: 'max-metadata-bytes',
      env: 'REGISTRY_MAX_METADATA_BYTES',
      default: DEFAULT_LIMITS.maxMetadataBytes,
      min: 0,
      help: 'most metadata bytes (keys and values) per instance; more are refused with 413',
    }),
    maxLeaseSecs: setting.integer({
      flag: 'max-lease-secs',
      env: 'REGISTRY_MAX_LEASE_SECS',
      default: DEFAULT_LIMITS.maxLeaseSecs,
      min: 30,
      max: 86_400,
      help: "ceiling of a registration's leaseInfo.durationInSecs and renewalIntervalInSecs (larger values are lowered)",
    }),
    maxWatchers: setting.integer({
      flag: 'max-watchers',
      env: 'REGISTRY_MAX_WATCHERS',
      default: DEFAULT_MAX_WATCHERS,
      min: 1,
      help: 'most event streams (GET /eureka/watch and the dashboard) open at once; more are refused with 503 and Retry-After',
    }),
    maxWatchersPerAddress: setting.integer({
      flag: 'max-watchers-per-address',
      env: 'REGISTRY_MAX_WATCHERS_PER_ADDRESS',
      default: DEFAULT_MAX_WATCHERS_PER_ADDRESS,
      min: 1,
      help: 'most event streams one source address (an IPv6 /64) may hold open, so one cannot take every slot; more are refused with 503 and Retry-After',
    }),
    maxClockSkewSecs: setting.integer({
      flag: 'max-clock-skew-secs',
      env: 'REGISTRY_MAX_CLOCK_SKEW_SECS',
      default: DEFAULT_LIMITS.maxClockSkewMs / 1000,
      min: 0,
      max: 86_400,
      help: "how far ahead of the registry's clock a lastDirtyTimestamp may be; later ones are refused with 400",
    }),
  };
}

export type RegistrySettings = Settings<ReturnType<typeof registrySettings>>;

/** The settings turned into what the registry's parts take. */
export interface RegistryConfig {
  readonly port: number;
  readonly host: string | undefined;
  /** Host names served besides loopback ones (--allowed-hosts). */
  readonly allowedHosts: readonly string[] | undefined;
  readonly healthShowDetails: HealthShowDetails;
  readonly observability: ObservabilitySettings;
  readonly databaseFile: string;
  readonly evictionIntervalMs: number;
  readonly selfPreservation: SelfPreservationSettings;
  readonly restoreGraceMs: number | undefined;
  readonly writeAuth: Credential | undefined;
  /** Write credentials limited to some applications (REGISTRY_CLIENTS). */
  readonly clients: ScopedCredentials | undefined;
  readonly readAuth: Credential | undefined;
  /** The other registry nodes, with the credentials to send them. */
  readonly peers: readonly PeerUrl[];
  readonly peerSyncTimeoutMs: number;
  readonly environment: string;
  readonly limits: RegistrationLimits;
  /** Most event streams open at once. */
  readonly maxWatchers: number;
  /** Most event streams open at once from one source address. */
  readonly maxWatchersPerAddress: number;
  /** Whether /v3/api-docs and Swagger UI are served (--api-docs; off by default with NODE_ENV=production). */
  readonly apiDocs: boolean;
}

/** Marks the credentials shipped in docker-compose.yml: fine on a laptop, refused in production. */
const DEV_ONLY = 'trellis-dev-only';

/**
 * Settings checked against the environment: with NODE_ENV=production the registry never starts open to writes by
 * accident (whoever can register can put a listener of theirs behind a service name and receive its callers'
 * tokens), nor with the development credential everyone can read in docker-compose.yml. Errors name the variable.
 */
export function registryConfig(
  settings: RegistrySettings,
  env: Readonly<Record<string, string | undefined>> = {},
): Readonly<RegistryConfig> {
  let entries: ScopedEntry[] = [];
  try {
    // Application names compared as the registry keys them (ASCII upper case).
    entries = parseScopedEntries(settings.clients ?? '', { normalize: asciiUpperCase });
  } catch (err) {
    // The parser names the entry by position and id, never its secret.
    throw new SettingsError(`invalid --clients (REGISTRY_CLIENTS): ${(err as Error).message}`);
  }
  if (env.NODE_ENV === 'production') {
    if (settings.writeAuth === undefined && entries.length === 0 && !settings.allowOpenWrites) {
      throw new SettingsError(
        'with NODE_ENV=production the registry needs --write-auth (REGISTRY_WRITE_AUTH); set --allow-open-writes (REGISTRY_ALLOW_OPEN_WRITES) only if a network boundary alone decides who registers',
      );
    }
    const secrets = [settings.writeAuth, settings.readAuth].map((credential) =>
      credential === undefined ? '' : credential.scheme === 'basic' ? credential.password : credential.token,
    );
    for (const secret of [...secrets, ...entries.map((e) => e.secret)]) {
      if (secret.includes(DEV_ONLY)) {
        throw new SettingsError(
          'the development registry credential of docker-compose.yml is refused with NODE_ENV=production; set REGISTRY_WRITE_AUTH, REGISTRY_CLIENTS (and REGISTRY_READ_AUTH) to credentials of your own',
        );
      }
    }
  }
  return Object.freeze({
    port: settings.port,
    host: settings.host,
    allowedHosts: settings.allowedHosts,
    healthShowDetails: settings.healthShowDetails,
    observability: observabilityOf(settings),
    databaseFile: join(settings.dataDir, 'registry.db'),
    evictionIntervalMs: settings.evictionIntervalMs,
    selfPreservation: {
      enabled: settings.selfPreservation === 'on',
      minInstances: settings.selfPreservationMinInstances,
      renewalPercent: settings.renewalThresholdPercent / 100,
    },
    restoreGraceMs: settings.restoreGraceSecs === undefined ? undefined : settings.restoreGraceSecs * 1000,
    writeAuth: settings.writeAuth,
    clients: entries.length === 0 ? undefined : scopedCredentials(entries),
    readAuth: settings.readAuth,
    peers: (settings.peers ?? []).map((url) => parsePeerUrl(url, settings.writeAuth)),
    peerSyncTimeoutMs: settings.peerSyncTimeoutMs,
    environment: settings.environment,
    maxWatchers: settings.maxWatchers,
    maxWatchersPerAddress: settings.maxWatchersPerAddress,
    apiDocs: apiDocsEnabled(settings.apiDocs, env),
    limits: Object.freeze({
      maxInstanceBytes: settings.maxInstanceBytes,
      maxInstances: settings.maxInstances,
      maxInstancesPerApp: settings.maxInstancesPerApp,
      maxMetadataEntries: settings.maxMetadataEntries,
      maxMetadataBytes: settings.maxMetadataBytes,
      maxLeaseSecs: settings.maxLeaseSecs,
      maxClockSkewMs: settings.maxClockSkewSecs * 1000,
    }),
  });
}

/**
 * Reads the registry's configuration from flags and variables; errors name the flag and the variable.
 * @example const config = loadConfig({ argv: ['--port', '0'], env: process.env });
 */
export function loadConfig(source: SettingsSource = {}): Readonly<RegistryConfig> {
  return registryConfig(loadSettings(registrySettings(), source), source.env);
}
