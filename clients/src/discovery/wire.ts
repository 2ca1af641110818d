// The client's view of the Eureka JSON wire (Accept: application/json): only what a client needs to pick and call an
// instance and to keep its cache in step. Tolerant the way Netflix's and eureka-js-client's readers are, because
// the answer may come from any Eureka server: numbers as strings, `@enabled` as string or boolean, a single object
// where newer servers write an array, `overriddenstatus` in either spelling, no instanceId on old servers.
import { DiscoveryError } from './errors.ts';
import { asciiUpperCase } from './names.ts';

/** Eureka's `InstanceInfo.InstanceStatus`. */
export type InstanceStatus = 'UP' | 'DOWN' | 'STARTING' | 'OUT_OF_SERVICE' | 'UNKNOWN';

const STATUSES: readonly InstanceStatus[] = ['UP', 'DOWN', 'STARTING', 'OUT_OF_SERVICE', 'UNKNOWN'];

/** How an instance changed, in deltas and watch events. */
export type ActionType = 'ADDED' | 'MODIFIED' | 'DELETED';

const ACTIONS: readonly ActionType[] = ['ADDED', 'MODIFIED', 'DELETED'];

export interface PortInfo {
  readonly port: number;
  readonly enabled: boolean;
}

export interface LeaseInfo {
  readonly renewalIntervalInSecs: number;
  readonly durationInSecs: number;
  readonly registrationTimestamp: number;
  readonly lastRenewalTimestamp: number;
  readonly evictionTimestamp: number;
  readonly serviceUpTimestamp: number;
}

/** One registered instance as a client sees it. */
export interface ServiceInstance {
  readonly instanceId: string;
  /** Upper-cased, as Eureka stores it. */
  readonly app: string;
  readonly hostName: string;
  readonly ipAddr: string;
  readonly status: InstanceStatus;
  readonly overriddenStatus: InstanceStatus;
  readonly port: PortInfo;
  readonly securePort: PortInfo;
  readonly metadata: Readonly<Record<string, string>>;
  readonly vipAddress: string | undefined;
  readonly homePageUrl: string | undefined;
  readonly statusPageUrl: string | undefined;
  readonly healthCheckUrl: string | undefined;
  readonly leaseInfo: LeaseInfo | undefined;
  readonly lastDirtyTimestamp: number;
  /** Set in deltas and watch events; absent in a full fetch from most servers. */
  readonly actionType: ActionType | undefined;
}

/** A GET /eureka/apps or /eureka/apps/delta answer. */
export interface ApplicationsDocument {
  readonly versionsDelta: string;
  readonly appsHashCode: string;
  readonly instances: readonly ServiceInstance[];
}

/** A `change` event of the watch stream. */
export interface WatchChange {
  readonly action: ActionType;
  readonly instance: ServiceInstance;
  readonly versionsDelta: string;
  readonly appsHashCode: string;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Old servers (XStream-era JSON) write a lone element as an object instead of a one-element array. */
function asList(value: unknown): readonly unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null ? [] : [value];
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function integer(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

function bool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const t = value.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  return undefined;
}

/** Case-insensitive status; anything else reads as UNKNOWN, which is never a candidate. */
export function parseStatus(value: unknown): InstanceStatus {
  const t = text(value)?.trim().toUpperCase();
  return STATUSES.find((s) => s === t) ?? 'UNKNOWN';
}

function parseAction(value: unknown): ActionType | undefined {
  const t = text(value)?.trim().toUpperCase();
  return ACTIONS.find((a) => a === t);
}

function port(value: unknown, fallback: PortInfo): PortInfo {
  if (isObject(value)) {
    return { port: integer(value['$']) ?? fallback.port, enabled: bool(value['@enabled']) ?? fallback.enabled };
  }
  // Hand-written registrations send a bare number; Eureka then treats the port as enabled.
  const bare = integer(value);
  return bare === undefined ? fallback : { port: bare, enabled: true };
}

function stringMap(value: unknown): Record<string, string> {
  const map: Record<string, string> = {};
  if (!isObject(value)) return map;
  for (const key of Object.keys(value)) {
    // `@class` is Jackson's type marker (Collections$EmptyMap), not an entry.
    if (key === '@class' || key === '__proto__') continue;
    const entry = text(value[key]);
    if (entry !== undefined) map[key] = entry;
  }
  return map;
}

function lease(value: unknown): LeaseInfo | undefined {
  if (!isObject(value)) return undefined;
  const n = (key: string): number => integer(value[key]) ?? 0;
  return {
    renewalIntervalInSecs: integer(value['renewalIntervalInSecs']) ?? 30,
    durationInSecs: integer(value['durationInSecs']) ?? 90,
    registrationTimestamp: n('registrationTimestamp'),
    // Older servers call it renewalTimestamp.
    lastRenewalTimestamp: integer(value['lastRenewalTimestamp']) ?? n('renewalTimestamp'),
    evictionTimestamp: n('evictionTimestamp'),
    serviceUpTimestamp: n('serviceUpTimestamp'),
  };
}

function overridden(source: JsonObject): InstanceStatus {
  const value = source['overriddenStatus'] ?? source['overriddenstatus'];
  return value === undefined ? 'UNKNOWN' : parseStatus(value);
}

// Eureka's InstanceInfo defaults: the non-secure port 7001 enabled, the secure port 7002 disabled.
const DEFAULT_PORT: PortInfo = { port: 7001, enabled: true };
const DEFAULT_SECURE_PORT: PortInfo = { port: 7002, enabled: false };

/**
 * Reads one instance object (the element of `instance[]`). Returns undefined when it lacks what a client needs to
 * call it (an app and a host), so one odd registration cannot hide every other instance.
 *
 * @example
 * readInstance({ app: 'review', hostName: 'h', port: { $: 7003, '@enabled': 'true' }, status: 'UP' })?.port.port // 7003
 */
export function readInstance(value: unknown, appName?: string): ServiceInstance | undefined {
  if (!isObject(value)) return undefined;
  const app = asciiUpperCase(text(value['app']) ?? appName ?? '');
  const ipAddr = text(value['ipAddr']);
  const hostName = text(value['hostName']) ?? ipAddr;
  if (app === '' || hostName === undefined || hostName === '') return undefined;
  return {
    // Servers before Eureka 1.1 have no instanceId; their clients identify instances by host name.
    instanceId: text(value['instanceId']) ?? hostName,
    app,
    hostName,
    ipAddr: ipAddr ?? hostName,
    status: value['status'] === undefined ? 'UP' : parseStatus(value['status']),
    overriddenStatus: overridden(value),
    port: port(value['port'], DEFAULT_PORT),
    securePort: port(value['securePort'], DEFAULT_SECURE_PORT),
    metadata: stringMap(value['metadata']),
    vipAddress: text(value['vipAddress']),
    homePageUrl: text(value['homePageUrl']),
    statusPageUrl: text(value['statusPageUrl']),
    healthCheckUrl: text(value['healthCheckUrl']),
    leaseInfo: lease(value['leaseInfo']),
    lastDirtyTimestamp: integer(value['lastDirtyTimestamp']) ?? 0,
    actionType: parseAction(value['actionType']),
  };
}

/**
 * Reads a GET /eureka/apps (or apps/delta) JSON body, already parsed. Throws `invalid_response` when the body has no
 * `applications` object; skips instances a client could not call.
 *
 * @example
 * const doc = readApplications(JSON.parse(body));
 * doc.appsHashCode; // 'UP_1_'
 */
export function readApplications(value: unknown): ApplicationsDocument {
  const root = isObject(value) ? value['applications'] : undefined;
  if (!isObject(root)) throw new DiscoveryError('invalid_response', 'registry answer has no "applications" object');
  const instances: ServiceInstance[] = [];
  for (const application of asList(root['application'])) {
    if (!isObject(application)) continue;
    const name = text(application['name']);
    for (const item of asList(application['instance'])) {
      const instance = readInstance(item, name);
      if (instance !== undefined) instances.push(instance);
    }
  }
  return {
    versionsDelta: text(root['versions__delta']) ?? '',
    appsHashCode: text(root['apps__hashcode']) ?? '',
    instances,
  };
}

/** Parses a JSON text, turning a syntax error into `invalid_response` naming what was being read. */
export function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new DiscoveryError('invalid_response', `${what} is not JSON`, { cause: err });
  }
}

/**
 * Reads the data of a watch stream `change` event. The instance is the object as it appears in `instance[]`;
 * a `{"instance": {…}}` wrapper is accepted too.
 */
export function readWatchChange(value: unknown): WatchChange {
  if (!isObject(value)) throw new DiscoveryError('invalid_response', 'watch change is not a JSON object');
  const action = parseAction(value['action']);
  if (action === undefined) throw new DiscoveryError('invalid_response', 'watch change has no valid "action"');
  const raw = value['instance'];
  const inner = isObject(raw) && isObject(raw['instance']) ? raw['instance'] : raw;
  const instance = readInstance(inner);
  if (instance === undefined) throw new DiscoveryError('invalid_response', 'watch change has no readable "instance"');
  return {
    action,
    instance,
    versionsDelta: text(value['versionsDelta']) ?? '',
    appsHashCode: text(value['appsHashCode']) ?? '',
  };
}
