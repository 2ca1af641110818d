// JSON → RawInstance with the coercions of Eureka's Jackson InstanceInfoDeserializer (EurekaJacksonCodec):
// nulls mean "use the default", numbers may come as strings and strings as numbers, `@class` inside
// metadata is a marker rather than an entry. Unknown fields are ignored, as Jackson's codec does.
import { LEASE_FIELDS, STRING_FIELDS } from './instance-fields.ts';
import type { RawDataCenter, RawInstance, RawLease, RawPort } from './normalize.ts';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Like Jackson's getText on a scalar: numbers and booleans become their text; objects, arrays and null don't count. */
export function jsonString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** Like Jackson's getValueAsInt/Long: truncates, reads numeric strings, maps booleans to 1/0. */
export function jsonInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'string') return parseIntegerText(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}

/** Like Jackson's getValueAsBoolean ("true"/"false" text, non-zero numbers), but case-insensitive. */
export function jsonBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') {
    const text = value.trim().toLowerCase();
    if (text === 'true') return true;
    if (text === 'false') return false;
  }
  return undefined;
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Decimal text → integer (truncated); `undefined` for empty or non-numeric text. */
export function parseIntegerText(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DECIMAL.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? Math.trunc(value) : undefined;
}

/**
 * Assigns a key of an untrusted map. Plain assignment of `__proto__` would replace the prototype instead of
 * adding an entry, so that one key is defined explicitly.
 */
export function setEntry(target: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/** Reads a string map, skipping the `@class` marker, nulls and nested values (Eureka cannot store those either). */
export function jsonStringMap(value: unknown): Record<string, string> | undefined {
  if (!isJsonObject(value)) return undefined;
  const map: Record<string, string> = {};
  for (const key of Object.keys(value)) {
    if (key === '@class' || key === '') continue;
    const entry = jsonString(value[key]);
    if (entry !== undefined) setEntry(map, key, entry);
  }
  return map;
}

function jsonPort(value: unknown): RawPort | undefined {
  if (isJsonObject(value)) {
    const port: RawPort = {};
    const number = jsonInteger(value['$']);
    if (number !== undefined) port.value = number;
    const enabled = jsonBoolean(value['@enabled']);
    if (enabled !== undefined) port.enabled = enabled;
    return port;
  }
  // Not Eureka's shape, but hand-written bodies send a bare port number.
  const number = jsonInteger(value);
  return number === undefined ? undefined : { value: number };
}

function jsonDataCenter(value: unknown): RawDataCenter | undefined {
  if (!isJsonObject(value)) return undefined;
  const dataCenter: RawDataCenter = {};
  const className = jsonString(value['@class']);
  if (className !== undefined) dataCenter.className = className;
  const name = jsonString(value['name']);
  if (name !== undefined) dataCenter.name = name;
  const metadata = jsonStringMap(value['metadata']);
  if (metadata !== undefined) dataCenter.metadata = metadata;
  return dataCenter;
}

function jsonLease(value: unknown): RawLease | undefined {
  if (!isJsonObject(value)) return undefined;
  const lease: RawLease = {};
  for (const field of LEASE_FIELDS) {
    const number = jsonInteger(value[field]);
    if (number !== undefined) lease[field] = number;
  }
  return lease;
}

/** String-valued InstanceInfo fields that Jackson copies as they come. */
const JSON_STRING_FIELDS = [...STRING_FIELDS, 'status', 'actionType'] as const satisfies readonly (keyof RawInstance)[];

/** Reads the object inside `{"instance": …}` (or a replication item's `instanceInfo`). */
export function readJsonInstance(source: JsonObject): RawInstance {
  const raw: RawInstance = {};
  for (const field of JSON_STRING_FIELDS) {
    const value = jsonString(source[field]);
    if (value !== undefined) raw[field] = value;
  }
  // Eureka renamed the field once (issue #1051) and reads both; the later one in the body wins, as in Jackson.
  for (const key of Object.keys(source)) {
    if (key === 'overriddenStatus' || key === 'overriddenstatus') {
      const value = jsonString(source[key]);
      if (value !== undefined) raw.overriddenStatus = value;
    }
  }
  const port = jsonPort(source['port']);
  if (port !== undefined) raw.port = port;
  const securePort = jsonPort(source['securePort']);
  if (securePort !== undefined) raw.securePort = securePort;
  const countryId = jsonInteger(source['countryId']);
  if (countryId !== undefined) raw.countryId = countryId;
  const dataCenter = jsonDataCenter(source['dataCenterInfo']);
  if (dataCenter !== undefined) raw.dataCenterInfo = dataCenter;
  const lease = jsonLease(source['leaseInfo']);
  if (lease !== undefined) raw.leaseInfo = lease;
  const metadata = jsonStringMap(source['metadata']);
  if (metadata !== undefined) raw.metadata = metadata;
  const coordinating = jsonBoolean(source['isCoordinatingDiscoveryServer']);
  if (coordinating !== undefined) raw.isCoordinatingDiscoveryServer = coordinating;
  const lastUpdated = jsonInteger(source['lastUpdatedTimestamp']);
  if (lastUpdated !== undefined) raw.lastUpdatedTimestamp = lastUpdated;
  const lastDirty = jsonInteger(source['lastDirtyTimestamp']);
  if (lastDirty !== undefined) raw.lastDirtyTimestamp = lastDirty;
  return raw;
}
