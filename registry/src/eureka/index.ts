// The Eureka wire model: types, body parsing and validation, and Eureka-faithful JSON/XML rendering.
// Pure: no HTTP, storage, clock or environment (callers pass `now`).
export {
  ACTION_TYPES,
  AMAZON_DATA_CENTER_CLASS,
  DATA_CENTER_NAMES,
  DEFAULT_DATA_CENTER_CLASS,
  INSTANCE_DEFAULTS,
  INSTANCE_STATUSES,
  dataCenterClassFor,
  groupApplications,
  parseActionType,
  parseDataCenterName,
  parseInstanceStatus,
} from './instance.ts';
export type {
  ActionType,
  Application,
  DataCenterInfo,
  DataCenterName,
  InstanceInfo,
  InstanceStatus,
  LeaseInfo,
  PortInfo,
} from './instance.ts';
export type { WireError, WireErrorCode, WireResult } from './result.ts';
export { bodyFormat, parseApplications, parseInstance } from './parse.ts';
export type { ApplicationsDocument, ParseOptions } from './parse.ts';
export { formatForAccept, renderApplication, renderApplications, renderInstance } from './render.ts';
export type { RenderApplicationsOptions, RenderOptions, WireFormat } from './render.ts';
export { appsHashCode } from './hashcode.ts';
export {
  MAX_NAME_LENGTH,
  appNameProblem,
  asciiUpperCase,
  instanceIdProblem,
  instanceTextProblem,
  metadataProblem,
  textProblem,
  vipProblem,
} from './text.ts';
export {
  REPLICATION_ACTIONS,
  parseReplicationBatch,
  renderReplicationBatch,
  renderReplicationResponse,
} from './replication.ts';
export type { ReplicationAction, ReplicationItem, ReplicationResponseItem } from './replication.ts';
