// The config server's wiring: settings → TLS, keys, backends and store → app → serve, as a landscape component.
import {
  createObservability,
  createService,
  CredentialLimiter,
  defineComponent,
  StartupError,
  type Logger,
  type Observability,
  type Running,
  type Service,
  type StartContext,
  observabilityOf,
  postgresUnreachable,
  redactDatabaseUrl,
} from '@trellis/kit';
import { serverTls, type TlsMaterial } from '@trellis/kit/tls';
import { createAccessControl } from './access/clients.ts';
import { createApp, renderError } from './app.ts';
import { COMPONENTS } from './routes/openapi.ts';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCompositeBackend } from './backends/composite.ts';
import { createGitBackend } from './backends/git.ts';
import { maskCredentials } from './backends/git-cli.ts';
import { createNativeBackend } from './backends/native.ts';
import { createJdbcBackend } from './backends/jdbc.ts';
import type { EnvironmentBackend } from './backends/types.ts';
import { checkConfig, configServerSettings, type Config } from './config.ts';
import type { KeyChain } from './cipher/index.ts';
import { loadKeyChain } from './load-key-chain.ts';
import { configServerMetrics, type ConfigServerMetrics } from './metrics.ts';
import { ConfigFileError } from './environment/index.ts';
import { overridesFromFile } from './overrides.ts';
import { openPostgresPropertyStore } from './store/postgres.ts';
import { openPropertyStore, type PropertyStore } from './store/properties.ts';

async function tlsFor(config: Config, logger: Logger): Promise<TlsMaterial | undefined> {
  if (config.http) return undefined;
  return serverTls({
    dataDir: config.dataDir,
    certFile: config.certFile,
    keyFile: config.keyFile,
    caFile: config.caFile,
    hostnames: config.tlsHostnames,
    logger,
  });
}

async function overridesOf(config: Config): Promise<Record<string, string>> {
  if (config.overridesFile === undefined) return { ...config.overrideValues };
  let text: string;
  try {
    text = await readFile(config.overridesFile, 'utf8');
  } catch {
    throw new StartupError(`cannot read --overrides-file (CONFIG_OVERRIDES_FILE) ${config.overridesFile}`);
  }
  try {
    return { ...overridesFromFile(config.overridesFile, text), ...config.overrideValues };
  } catch (err) {
    const reason = err instanceof ConfigFileError ? err.message : 'it does not parse';
    throw new StartupError(`--overrides-file (CONFIG_OVERRIDES_FILE) ${config.overridesFile}: ${reason}`);
  }
}

interface Backends {
  readonly backend: EnvironmentBackend;
  readonly store: PropertyStore | undefined;
}

async function backendsFor(
  config: Config,
  logger: Logger,
  env: StartContext['env'],
  metrics: ConfigServerMetrics | undefined,
): Promise<Backends> {
  const list: EnvironmentBackend[] = [];
  let store: PropertyStore | undefined;
  try {
    for (const kind of config.backendKinds) {
      switch (kind) {
        case 'native':
          list.push(createNativeBackend({ root: config.repo, defaultLabel: config.defaultLabel, logger }));
          break;
        case 'git': {
          const git = createGitBackend({
            uri: config.gitUri ?? '',
            baseDir: join(config.dataDir, 'config-git'),
            defaultLabel: config.defaultLabel,
            searchPaths: config.gitSearchPaths ?? [],
            refreshMs: config.gitRefreshRate * 1000,
            timeoutMs: config.gitTimeout * 1000,
            env,
            logger,
            ...(metrics === undefined
              ? {}
              : { onRefresh: (seconds: number, ok: boolean) => metrics.backendRefreshed(seconds, ok) }),
          });
          list.push(git);
          // Clone on start; a remote that is down leaves the server up (health says why) and the fetch retrying.
          await git.start();
          break;
        }
        case 'sqlite':
          try {
            store = openPropertyStore({ file: config.sqlitePath });
          } catch (err) {
            throw new StartupError(
              `cannot open --sqlite-file (CONFIG_SQLITE_FILE) ${config.sqlitePath}: ${err instanceof Error ? err.message : 'unknown error'}`,
            );
          }
          list.push(createJdbcBackend({ store, defaultLabel: config.sqliteDefaultLabel }));
          break;
        case 'jdbc': {
          const url = config.databaseUrl ?? '';
          try {
            store = await openPostgresPropertyStore({ url, logger });
          } catch (err) {
            // pg's messages name neither the URL nor its password; the redacted URL says which database.
            const reason = postgresUnreachable(err) ?? (err instanceof Error ? err.message : 'unknown error');
            throw new StartupError(
              `cannot open --database-url (TRELLIS_DATABASE_URL) ${redactDatabaseUrl(url)}: ${reason}`,
            );
          }
          list.push(createJdbcBackend({ store, defaultLabel: config.sqliteDefaultLabel }));
          break;
        }
      }
    }
  } catch (err) {
    await Promise.all(list.map((b) => b.close()));
    throw err;
  }
  return { backend: createCompositeBackend(list), store };
}

async function start(config: Config, logger: Logger, env: StartContext['env']): Promise<Running> {
  const keys = await loadKeyChain(config);
  if (config.keyStorePath !== undefined && (config.encryptKey !== undefined || config.encryptKeyFile !== undefined)) {
    // Spring's order too: a key store wins. Names only; neither key reaches the log.
    logger.warn('ENCRYPT_KEY / ENCRYPT_KEY_FILE ignored: ENCRYPT_KEY_STORE_LOCATION is set and its keys are used');
  }
  const tls = await tlsFor(config, logger);
  const overrides = await overridesOf(config);
  // Before the backends: the git backend's start-up clone is its first refresh.
  const observability = await createObservability('config-server', observabilityOf(config), logger);
  const metrics =
    observability.metrics === undefined
      ? undefined
      : configServerMetrics(observability.metrics, config.backendKinds.join(','));
  const { backend, store } = await backendsFor(config, logger, env, metrics);
  const service = createConfigServer(config, { logger, backend, store, keys, overrides, metrics, observability });
  service.onShutdown('config backend', () => backend.close());
  await service.listen({
    port: config.port,
    // --http without --host stays on loopback: plain HTTP must not be reachable from other machines.
    ...(config.host === undefined ? (config.http ? { host: '127.0.0.1' } : {}) : { host: config.host }),
    ...(tls === undefined ? {} : { tls: { key: tls.key, cert: tls.cert } }),
    setting: '--port (CONFIG_SERVER_PORT)',
  });
  const notes = [
    `config-server: ${describeBackends(config)}, ${describeKeys(config, keys)}, ${
      config.clientEntries === undefined
        ? 'open to every client (set CONFIG_CLIENTS to require credentials)'
        : `${config.clientEntries.length} client credential(s)`
    }`,
  ];
  if (tls?.caFile !== undefined) notes.push(`config-server: clients trust ${tls.caFile}`);
  return {
    name: 'config-server',
    endpoints: service.endpoints,
    notes,
    // Served over HTTPS unless --http asked for plain HTTP on loopback: either way its one listener.
    offers: { configServer: service.endpoints[0]?.url },
    stop: () => service.stop(),
  };
}

/** What the config server is made of besides its settings: main.ts opens them, tests hand in their own. */
export interface ConfigServerParts {
  readonly logger: Logger;
  readonly backend: EnvironmentBackend;
  readonly store?: PropertyStore | undefined;
  readonly keys?: KeyChain | undefined;
  readonly overrides?: Readonly<Record<string, string>>;
  readonly metrics?: ConfigServerMetrics | undefined;
  readonly observability?: Observability | undefined;
}

/**
 * The service `trellis config-server` listens with: the app's routes on the kit service, with the API document at
 * /v3/api-docs when --api-docs (on, except with NODE_ENV=production) says so.
 *
 * @example
 * const service = createConfigServer(loadConfig(env, argv), { logger, backend });
 */
export function createConfigServer(config: Config, parts: ConfigServerParts): Service {
  const service = createService({
    name: 'config-server',
    description: 'Trellis config server (Spring Cloud Config API)',
    logger: parts.logger,
    renderError,
    allowedHosts: config.allowedHosts,
    healthShowDetails: config.healthShowDetails,
    ...(parts.observability === undefined ? {} : { observability: parts.observability }),
    ...(config.apiDocs ? { apiDocs: { components: COMPONENTS } } : {}),
  });
  createApp({
    logger: parts.logger,
    backend: parts.backend,
    service,
    overrides: parts.overrides ?? {},
    maxWatchers: config.watchMaxStreams,
    maxWatchersPerClient: config.watchMaxStreamsPerClient,
    watchWriteTimeoutMs: config.watchWriteTimeout * 1000,
    metrics: parts.metrics,
    proxies: config.proxies,
    credentialLimiter: new CredentialLimiter({
      maxFailures: config.maxCredentialFailures,
      maxFailuresPerSource: 2 * config.maxCredentialFailures,
    }),
    ...(parts.keys === undefined ? {} : { keys: parts.keys }),
    ...(config.clientEntries === undefined ? {} : { access: createAccessControl(config.clientEntries) }),
    ...(parts.store === undefined ? {} : { store: parts.store }),
    ...(config.adminEntries === undefined ? {} : { admins: createAccessControl(config.adminEntries) }),
  });
  return service;
}

function describeKeys(config: Config, keys: KeyChain | undefined): string {
  if (keys === undefined) return 'no encrypt key';
  if (config.keyStorePath === undefined) return `${keys.locate().kind} encrypt key`;
  // Alias names only: they are what {key:…} prefixes say, not secrets.
  return `key store ${config.keyStorePath} (${keys.aliases.length} RSA key(s), new values with {key:${keys.activeAlias ?? ''}})`;
}

function describeBackends(config: Config): string {
  return config.backendKinds
    .map((kind) => {
      switch (kind) {
        case 'native':
          return `native repository ${config.repo}`;
        case 'git':
          return `git ${maskCredentials(config.gitUri ?? '')} (fetched every ${config.gitRefreshRate} s)`;
        case 'sqlite':
          return `sqlite ${config.sqlitePath} (write API ${config.adminEntries === undefined ? 'off' : 'on'})`;
        case 'jdbc':
          return `jdbc ${redactDatabaseUrl(config.databaseUrl ?? '')} (write API ${config.adminEntries === undefined ? 'off' : 'on'})`;
      }
    })
    .join(' + ');
}

/**
 * The config server as a landscape component (`trellis config-server`, or part of `trellis up`).
 *
 * @example
 * const running = await configServerComponent.start(loadSettings(configServerComponent.settings, { env }), { logger, env });
 */
export const configServerComponent = defineComponent({
  name: 'config-server',
  summary: 'Spring-Cloud-Config-compatible configuration server over HTTPS (port 8888)',
  settings: configServerSettings(),
  start: (settings, context) => start(checkConfig(settings, context.env), context.logger, context.env),
});
