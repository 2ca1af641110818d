// @trellis/clients/config: the config client, compatible with Spring Cloud Config Server.
// Fetch at start with fail-fast retry, Spring's merge order, typed access, secrets that never reach a log, and push
// refresh over the watch stream.
export { createConfigClient, fetchRemoteConfig, STARTUP_RETRY } from './client.ts';
export type {
  ConfigChange,
  ConfigClient,
  ConfigClientOptions,
  ConfigClientStatus,
  ConfigListener,
  ConfigReader,
  ConfigRetryOptions,
  FetchRemoteConfigOptions,
} from './client.ts';
export { ConfigClientError } from './errors.ts';
export type { ConfigClientErrorCode } from './errors.ts';
export { configHealthIndicator } from './health.ts';
export { environmentPath } from './http.ts';
export type { ConfigCredentials } from './http.ts';
export { ConfigProperties, mergePropertySources } from './properties.ts';
export type {
  ConfigDiff,
  ConfigNode,
  ConfigTree,
  ConfigValue,
  RawEnvironment,
  RawPropertySource,
  RawValue,
} from './properties.ts';
export { isSecretProperty, Secret } from './secret.ts';
