// @trellis/kit: the server framework every Trellis server and service is built on (TLS under @trellis/kit/tls).
export { apiDocsEnabled, commonSettings, defineComponent } from './component.ts';
export { apiDocument, documented, mountApiDocs, openApiPath, undocumentedRoutes } from './openapi.ts';
export type { ApiDocsOptions, OpenApiDocument, OpenApiOperation, OpenApiSchema } from './openapi.ts';
export type { CommonSettings, Component, DevelopmentClient, Offers, Running, StartContext } from './component.ts';
export { CREDENTIAL_FORMAT, credentialChallenge, parseCredential, presents } from './credentials.ts';
export type { Credential } from './credentials.ts';
export { mayActFor, parseScopedEntries, scopedCredentials } from './scoped-credentials.ts';
export { CredentialLimiter, presentedName, throttleSource } from './credential-limiter.ts';
export type { CredentialLimiterOptions } from './credential-limiter.ts';
export type { ScopedClient, ScopedCredentials, ScopedEntry, ScopedEntryOptions } from './scoped-credentials.ts';
export { errorCode, isClientGone, isTrellisError, StartupError, TrellisError } from './errors.ts';
export { aggregateStatus, DEFAULT_STATUS_ORDER, HealthRegistry, httpStatusOf, OUT_OF_SERVICE, UP } from './health.ts';
export type { Health, HealthContributor, HealthGroup, HealthIndicator, HealthStatus } from './health.ts';
export { readGitInfo } from './info.ts';
export type { GitInfo } from './info.ts';
export { isUserError, runUntilSignal } from './lifecycle.ts';
export type { RunOptions } from './lifecycle.ts';
export {
  broadcastToWorkers,
  currentWorker,
  onPrimaryStop,
  onWorkerBroadcast,
  reportWorkerReady,
  runWorkers,
  WORKERS_ENV,
  workersSetting,
} from './workers.ts';
export type { PrimaryOptions, WorkerSlot } from './workers.ts';
export { createLogger, redactSecrets, redactUrl, SENSITIVE_KEYS } from './logger.ts';
export type { Logger, LoggerSettings } from './logger.ts';
export { createService } from './service.ts';
export type { Service, ServiceOptions, ShutdownHook } from './service.ts';
export type { Endpoint, ListenOptions, NodeServerOptions, SocketHandler } from './node-server.ts';
export type { KitEnv } from './hono-app.ts';
export type { InterceptContext, Interceptor } from './intercept.ts';
export type { LeanRequest, LeanResponse, LeanRoute } from './lean-routes.ts';
export type { RequestLogLevel } from './request-log.ts';
export { migrateSqlite, readSqliteMigrations } from './sqlite-migrate.ts';
export type { MigratableDatabase, SqliteMigrateOptions, SqliteMigration } from './sqlite-migrate.ts';
export { loadSettings, renderSettingsHelp, setting, SettingsError, settingLabel, splitFlags } from './settings.ts';
export type { SettingSpec, SettingSpecs, Settings, SettingsSource } from './settings.ts';
export {
  checkOut,
  inTransaction,
  isPostgresUrl,
  listenPostgres,
  migratePostgres,
  openPostgres,
  postgresUnreachable,
  redactDatabaseUrl,
} from './postgres.ts';
export type {
  PostgresClient,
  PostgresListener,
  PostgresListenOptions,
  PostgresMigrateOptions,
  PostgresPool,
  PostgresPoolOptions,
} from './postgres.ts';
export { openSqlite } from './sqlite.ts';
export { lowerThreadPoolPriority, THREAD_POOL_NICE } from './thread-pool.ts';
export { firstUnstorable, storableText, unstorableReason } from './text.ts';
export type { OpenSqliteOptions, SqliteDatabase, SqliteOptions } from './sqlite.ts';
export { acceptsConnections, freePort } from './free-port.ts';
export { own, stopProcess } from './owned-process.ts';
export { parseServiceUrls } from './service-urls.ts';
export type { ServiceUrl } from './service-urls.ts';
export {
  addressKey,
  carriesProxySecret,
  fromInternalCaller,
  isInternalAddress,
  parseTrustedProxies,
  PROXY_SECRET_HEADER,
  sourceAddress,
} from './trusted-proxies.ts';
export type { TrustedProxies } from './trusted-proxies.ts';
export { pumpEvents, StreamSlots } from './event-streams.ts';
export type { EventPumpOptions, EventSink, StreamSlot, StreamSlotLimits } from './event-streams.ts';
export { HEALTH_SHOW_DETAILS } from './actuator.ts';
export type { HealthShowDetails } from './actuator.ts';
export {
  context,
  boundCounter,
  boundTimer,
  counter,
  createObservability,
  currentObservability,
  failSpan,
  gauge,
  LATENCY_BUCKETS,
  methodLabel,
  Metrics,
  observabilityOf,
  observabilitySettings,
  outcomeOf,
  ROOT_CONTEXT,
  setRequestException,
  setRequestRoute,
  SpanKind,
  SpanStatusCode,
  springTemplate,
  timer,
  trace,
  TRACE_HEADERS,
  withObservability,
} from './observability/index.ts';
export type {
  Attributes,
  Context,
  Counter,
  Gauge,
  Histogram,
  Observability,
  ObservabilitySettings,
  Propagation,
  Span,
  TextMapGetter,
  TextMapSetter,
  TraceTrust,
  Tracing,
  TracingExporter,
  TracingSettings,
} from './observability/index.ts';
