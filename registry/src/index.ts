// @trellis/registry: the Eureka-compatible registry server.
export { registryComponent, startRegistry } from './main.ts';
export { createApp, EUREKA_PREFIXES } from './app.ts';
export type { AppDeps } from './app.ts';
export { loadConfig, registryConfig, registrySettings } from './config.ts';
export type { RegistryConfig, RegistrySettings } from './config.ts';
export { RegistryError } from './errors.ts';
export type { RegistryErrorCode } from './errors.ts';
export { parseCredential } from './auth/credentials.ts';
export type { Credential } from './auth/credentials.ts';
export { Registry } from './registry/registry.ts';
export type {
  DeleteOverrideOptions,
  EvictionReport,
  RecentCancellation,
  RecentEntry,
  RegisterResult,
  RegistryOptions,
  RegistryStatus,
  RenewOptions,
  RenewResult,
  StatusOptions,
  WriteOptions,
} from './registry/registry.ts';
export type { ActionType, Application, InstanceInfo, InstanceStatus } from './eureka/index.ts';
export type { ChangeCause, LeaseRecord, RegistryChange, RegistryRenewal } from './registry/events.ts';
export { DEFAULT_LIMITS } from './registry/limits.ts';
export type { RegistrationLimits } from './registry/limits.ts';
export { evictionLimit, selfPreservation } from './registry/self-preservation.ts';
export type {
  SelfPreservationInput,
  SelfPreservationSettings,
  SelfPreservationState,
} from './registry/self-preservation.ts';
export { effectiveStatus, NO_OVERRIDE } from './registry/status-rules.ts';
export { startSweeper } from './registry/sweeper.ts';
export { openSqliteStore } from './store/sqlite-store.ts';
export type { RegistryStore, RenewalWrite, StoredRegistry } from './store/store.ts';
export { persistRegistry } from './store/persistence.ts';
export type { Persistence } from './store/persistence.ts';
export type { DashboardOptions } from './app.ts';
export { parsePeerUrl } from './peers/peer-url.ts';
export type { PeerUrl } from './peers/peer-url.ts';
export { PeerReplicator } from './peers/replicator.ts';
export type { PeerState, PeerStatus, ReplicatorOptions } from './peers/replicator.ts';
export { createPeerHttp } from './peers/peer-http.ts';
export type { PeerAnswer, PeerHttp, PeerRequest } from './peers/peer-http.ts';
export { syncFromPeers } from './peers/sync.ts';
export type { SyncOptions, SyncResult } from './peers/sync.ts';
export { renderDashboard } from './dashboard/page.ts';
export type { DashboardModel, SystemInfo } from './dashboard/model.ts';
