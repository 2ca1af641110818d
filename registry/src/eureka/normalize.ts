// The format-neutral step between the JSON/XML readers and the model: Eureka's defaults, its instanceId
// fallbacks and the validation ApplicationResource.addInstance performs, with its exact messages.
import {
  INSTANCE_DEFAULTS,
  dataCenterClassFor,
  parseActionType,
  parseDataCenterName,
  parseInstanceStatus,
} from './instance.ts';
import type { DataCenterInfo, InstanceInfo, InstanceStatus, LeaseInfo, PortInfo } from './instance.ts';
import { fail, ok } from './result.ts';
import { appNameProblem, asciiUpperCase, instanceIdProblem, instanceTextProblem } from './text.ts';
import type { WireResult } from './result.ts';

/** A field as a reader found it; absent when missing, null or not coercible. */
export interface RawPort {
  value?: number;
  enabled?: boolean;
}

export interface RawDataCenter {
  className?: string;
  name?: string;
  metadata?: Record<string, string>;
}

export interface RawLease {
  renewalIntervalInSecs?: number;
  durationInSecs?: number;
  registrationTimestamp?: number;
  lastRenewalTimestamp?: number;
  /** Legacy spelling of lastRenewalTimestamp written by some old Jackson-based servers. */
  renewalTimestamp?: number;
  evictionTimestamp?: number;
  serviceUpTimestamp?: number;
}

export interface RawInstance {
  instanceId?: string;
  app?: string;
  appGroupName?: string;
  ipAddr?: string;
  sid?: string;
  hostName?: string;
  status?: string;
  overriddenStatus?: string;
  port?: RawPort;
  securePort?: RawPort;
  countryId?: number;
  dataCenterInfo?: RawDataCenter;
  leaseInfo?: RawLease;
  metadata?: Record<string, string>;
  homePageUrl?: string;
  statusPageUrl?: string;
  healthCheckUrl?: string;
  secureHealthCheckUrl?: string;
  vipAddress?: string;
  secureVipAddress?: string;
  isCoordinatingDiscoveryServer?: boolean;
  lastUpdatedTimestamp?: number;
  lastDirtyTimestamp?: number;
  actionType?: string;
  asgName?: string;
}

export interface NormalizeContext {
  /** The `{APP}` of the request path; Eureka rejects a body whose app differs (both upper-cased). */
  readonly pathApp?: string | undefined;
  /** Stands in for the timestamps Eureka's InstanceInfo constructor takes from the clock. */
  readonly now: number;
}

/** Applies Eureka's defaults and checks, in ApplicationResource.addInstance's order. */
export function normalizeInstance(raw: RawInstance, context: NormalizeContext): WireResult<InstanceInfo> {
  const hostName = raw.hostName ?? '';
  const ipAddr = raw.ipAddr ?? '';
  const app = asciiUpperCase(raw.app ?? '');
  const metadata = raw.metadata ?? {};
  const instanceId = resolveInstanceId(raw.instanceId, hostName, metadata, raw.dataCenterInfo);

  // Eureka's isBlank is `null || isEmpty()`: a whitespace-only value passes there, so it passes here.
  if (instanceId === '') return fail('missing_field', 'Missing instanceId', 'instanceId');
  if (hostName === '') return fail('missing_field', 'Missing hostname', 'hostName');
  if (ipAddr === '') return fail('missing_field', 'Missing ip address', 'ipAddr');
  if (app === '') return fail('missing_field', 'Missing appName', 'app');
  // Names before anything compares them: a non-ASCII letter could otherwise pass for another name.
  const badApp = appNameProblem(app);
  if (badApp !== undefined) return fail('invalid_field', badApp, 'app');
  const badId = instanceIdProblem(instanceId);
  if (badId !== undefined) return fail('invalid_field', badId, 'instanceId');
  if (context.pathApp !== undefined) {
    const expected = asciiUpperCase(context.pathApp);
    if (expected !== app) {
      return fail('app_mismatch', `Mismatched appName, expecting ${expected} but was ${app}`, 'app');
    }
  }
  const rawDataCenter = raw.dataCenterInfo;
  if (rawDataCenter === undefined) return fail('missing_field', 'Missing dataCenterInfo', 'dataCenterInfo');
  if (rawDataCenter.name === undefined || rawDataCenter.name === '') {
    return fail('missing_field', 'Missing dataCenterInfo Name', 'dataCenterInfo.name');
  }
  const dataCenterName = parseDataCenterName(rawDataCenter.name);
  // Eureka fails to deserialize an unknown name too; storing one would break every Java client's fetch.
  if (dataCenterName === undefined) {
    return fail('invalid_field', `Invalid dataCenterInfo name ${rawDataCenter.name}`, 'dataCenterInfo.name');
  }
  const status = readStatus(raw.status, INSTANCE_DEFAULTS.status);
  if (status === undefined) return fail('invalid_field', `Invalid status ${raw.status ?? ''}`, 'status');
  const overriddenStatus = readStatus(raw.overriddenStatus, INSTANCE_DEFAULTS.overriddenStatus);
  if (overriddenStatus === undefined) {
    return fail('invalid_field', `Invalid overriddenStatus ${raw.overriddenStatus ?? ''}`, 'overriddenStatus');
  }

  const dataCenterInfo: DataCenterInfo =
    dataCenterName === 'Amazon'
      ? { className: dataCenterClassFor(dataCenterName), name: dataCenterName, metadata: rawDataCenter.metadata ?? {} }
      : { className: dataCenterClassFor(dataCenterName), name: dataCenterName };

  const instance: InstanceInfo = {
    instanceId,
    app,
    appGroupName: raw.appGroupName === undefined ? null : asciiUpperCase(raw.appGroupName),
    ipAddr,
    sid: raw.sid ?? INSTANCE_DEFAULTS.sid,
    hostName,
    status,
    overriddenStatus,
    port: port(raw.port, INSTANCE_DEFAULTS.port, true),
    securePort: port(raw.securePort, INSTANCE_DEFAULTS.securePort, false),
    countryId: raw.countryId ?? INSTANCE_DEFAULTS.countryId,
    dataCenterInfo,
    leaseInfo: lease(raw.leaseInfo),
    metadata,
    homePageUrl: raw.homePageUrl ?? null,
    statusPageUrl: raw.statusPageUrl ?? null,
    healthCheckUrl: raw.healthCheckUrl ?? null,
    secureHealthCheckUrl: raw.secureHealthCheckUrl ?? null,
    vipAddress: raw.vipAddress ?? null,
    secureVipAddress: raw.secureVipAddress ?? null,
    isCoordinatingDiscoveryServer: raw.isCoordinatingDiscoveryServer ?? false,
    lastUpdatedTimestamp: raw.lastUpdatedTimestamp ?? context.now,
    lastDirtyTimestamp: raw.lastDirtyTimestamp ?? context.now,
    // Eureka's lookup yields null for an unknown action type rather than failing the registration.
    actionType: parseActionType(raw.actionType) ?? null,
    asgName: raw.asgName ?? null,
  };
  const badText = instanceTextProblem(instance);
  return badText === undefined ? ok(instance) : fail('invalid_field', badText);
}

/**
 * Spring's CloudJacksonJson first takes `metadata.instanceId` (prefixed with the host name, "for Angel"),
 * then Eureka's getId() falls back to AmazonInfo's instance-id and finally to the host name — which is
 * what eureka-js-client heartbeats to when it sends no instanceId.
 */
function resolveInstanceId(
  instanceId: string | undefined,
  hostName: string,
  metadata: Record<string, string>,
  dataCenter: RawDataCenter | undefined,
): string {
  if (instanceId !== undefined && instanceId !== '') return instanceId;
  const fromMetadata = Object.hasOwn(metadata, 'instanceId') ? metadata['instanceId'] : undefined;
  if (fromMetadata !== undefined && fromMetadata.trim() !== '') {
    return hostName.trim() !== '' && !fromMetadata.startsWith(hostName) ? `${hostName}:${fromMetadata}` : fromMetadata;
  }
  const amazonId = dataCenter?.metadata?.['instance-id'];
  if (amazonId !== undefined && amazonId !== '' && dataCenter?.name?.toLowerCase() === 'amazon') return amazonId;
  return hostName;
}

function readStatus(value: string | undefined, fallback: InstanceStatus): InstanceStatus | undefined {
  if (value === undefined) return fallback;
  // Eureka's codecs turn what they cannot read into UNKNOWN; an empty value is kept that way, while any
  // other unknown word is refused so a typo does not silently take an instance out of rotation.
  if (value.trim() === '') return 'UNKNOWN';
  return parseInstanceStatus(value);
}

function port(raw: RawPort | undefined, defaultPort: number, defaultEnabled: boolean): PortInfo {
  return { value: raw?.value ?? defaultPort, enabled: raw?.enabled ?? defaultEnabled };
}

function lease(raw: RawLease | undefined): LeaseInfo {
  return {
    // LeaseInfo.Builder replaces non-positive intervals with the defaults.
    renewalIntervalInSecs: positiveOr(raw?.renewalIntervalInSecs, INSTANCE_DEFAULTS.renewalIntervalInSecs),
    durationInSecs: positiveOr(raw?.durationInSecs, INSTANCE_DEFAULTS.durationInSecs),
    registrationTimestamp: raw?.registrationTimestamp ?? 0,
    lastRenewalTimestamp: raw?.lastRenewalTimestamp ?? raw?.renewalTimestamp ?? 0,
    evictionTimestamp: raw?.evictionTimestamp ?? 0,
    serviceUpTimestamp: raw?.serviceUpTimestamp ?? 0,
  };
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback;
}
