// The normalized Eureka instance model. Parsers fill every field (with Eureka's own defaults) so the store,
// routes and renderers never deal with the wire's optional/null/string-typed variants.

/** Eureka's `InstanceInfo.InstanceStatus`, in the enum's declaration order. */
export const INSTANCE_STATUSES = ['UP', 'DOWN', 'STARTING', 'OUT_OF_SERVICE', 'UNKNOWN'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** How an instance changed, as carried in delta responses. */
export const ACTION_TYPES = ['ADDED', 'MODIFIED', 'DELETED'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

/** `DataCenterInfo.Name`: Java clients fail to deserialize any other value, so no other value is stored. */
export const DATA_CENTER_NAMES = ['Netflix', 'Amazon', 'MyOwn'] as const;
export type DataCenterName = (typeof DATA_CENTER_NAMES)[number];

export const DEFAULT_DATA_CENTER_CLASS = 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo';
export const AMAZON_DATA_CENTER_CLASS = 'com.netflix.appinfo.AmazonInfo';

/** Defaults of Eureka's `InstanceInfo`/`LeaseInfo` builders, applied when a body leaves a field out or null. */
export const INSTANCE_DEFAULTS = {
  port: 7001,
  securePort: 7002,
  countryId: 1,
  sid: 'na',
  status: 'UP',
  overriddenStatus: 'UNKNOWN',
  renewalIntervalInSecs: 30,
  durationInSecs: 90,
} as const;

export interface PortInfo {
  readonly value: number;
  readonly enabled: boolean;
}

export interface DataCenterInfo {
  /** The `@class` Eureka writes for this name (Eureka derives it from the name, not from what was sent). */
  readonly className: string;
  readonly name: DataCenterName;
  /** AmazonInfo's metadata (instance-id, public-hostname, …); only carried for `Amazon`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface LeaseInfo {
  readonly renewalIntervalInSecs: number;
  readonly durationInSecs: number;
  readonly registrationTimestamp: number;
  readonly lastRenewalTimestamp: number;
  readonly evictionTimestamp: number;
  readonly serviceUpTimestamp: number;
}

/** Everything Eureka's `InstanceInfo` carries on the wire. */
export interface InstanceInfo {
  readonly instanceId: string;
  /** Upper-cased, as Eureka stores it. */
  readonly app: string;
  readonly appGroupName: string | null;
  readonly ipAddr: string;
  readonly sid: string;
  readonly hostName: string;
  readonly status: InstanceStatus;
  readonly overriddenStatus: InstanceStatus;
  readonly port: PortInfo;
  readonly securePort: PortInfo;
  readonly countryId: number;
  readonly dataCenterInfo: DataCenterInfo;
  readonly leaseInfo: LeaseInfo;
  readonly metadata: Readonly<Record<string, string>>;
  readonly homePageUrl: string | null;
  readonly statusPageUrl: string | null;
  readonly healthCheckUrl: string | null;
  readonly secureHealthCheckUrl: string | null;
  readonly vipAddress: string | null;
  readonly secureVipAddress: string | null;
  readonly isCoordinatingDiscoveryServer: boolean;
  readonly lastUpdatedTimestamp: number;
  readonly lastDirtyTimestamp: number;
  readonly actionType: ActionType | null;
  readonly asgName: string | null;
}

/** One `application` element: an app name and its instances. */
export interface Application {
  readonly name: string;
  readonly instances: readonly InstanceInfo[];
}

/**
 * Reads a status from a query parameter or body field. Case-insensitive and trimmed, like Eureka's XML
 * codec (`InstanceStatus.toEnum`); `undefined` when the value is not a status.
 * @example parseInstanceStatus('out_of_service') // 'OUT_OF_SERVICE'
 */
export function parseInstanceStatus(value: string | null | undefined): InstanceStatus | undefined {
  if (value === null || value === undefined) return undefined;
  return findConstant(INSTANCE_STATUSES, value.trim().toUpperCase());
}

/** Case-insensitive `ActionType` lookup; `undefined` for anything else. */
export function parseActionType(value: string | null | undefined): ActionType | undefined {
  if (value === null || value === undefined) return undefined;
  return findConstant(ACTION_TYPES, value.trim().toUpperCase());
}

/** Case-insensitive `DataCenterInfo.Name` lookup returning the canonical spelling. */
export function parseDataCenterName(value: string): DataCenterName | undefined {
  const wanted = value.trim().toLowerCase();
  return DATA_CENTER_NAMES.find((name) => name.toLowerCase() === wanted);
}

/** The `@class` Eureka's codecs write for a data center name (AmazonInfo for Amazon, the default marker otherwise). */
export function dataCenterClassFor(name: DataCenterName): string {
  return name === 'Amazon' ? AMAZON_DATA_CENTER_CLASS : DEFAULT_DATA_CENTER_CLASS;
}

/**
 * Groups instances into applications by `app`, keeping first-seen order of apps and instances.
 * @example renderApplications(groupApplications(store.all()), { format: 'json', versionsDelta: 1, appsHashCode: '' })
 */
export function groupApplications(instances: Iterable<InstanceInfo>): Application[] {
  const byName = new Map<string, InstanceInfo[]>();
  for (const instance of instances) {
    const list = byName.get(instance.app);
    if (list === undefined) byName.set(instance.app, [instance]);
    else list.push(instance);
  }
  return Array.from(byName, ([name, list]) => ({ name, instances: list }));
}

function findConstant<T extends string>(values: readonly T[], candidate: string): T | undefined {
  return values.find((value) => value === candidate);
}
