// Eureka's InstanceInfo field lists (the lease fields, the plain string fields), read by both the JSON and XML readers.
import type { RawInstance, RawLease } from './normalize.ts';

/** The numeric fields of a `leaseInfo`, in InstanceInfo's order; `renewalTimestamp` is the legacy spelling. */
export const LEASE_FIELDS = [
  'renewalIntervalInSecs',
  'durationInSecs',
  'registrationTimestamp',
  'lastRenewalTimestamp',
  'renewalTimestamp',
  'evictionTimestamp',
  'serviceUpTimestamp',
] as const satisfies readonly (keyof RawLease)[];

/**
 * String fields both codecs copy as they come (plain strings and the @Auto string fields of InstanceInfo). `status`
 * and `actionType` are not among them: XStream trims them, Jackson does not.
 */
export const STRING_FIELDS = [
  'instanceId',
  'app',
  'appGroupName',
  'ipAddr',
  'sid',
  'hostName',
  'homePageUrl',
  'statusPageUrl',
  'healthCheckUrl',
  'secureHealthCheckUrl',
  'vipAddress',
  'secureVipAddress',
  'asgName',
] as const satisfies readonly (keyof RawInstance)[];

function memberOf<T extends string>(list: readonly T[]): (name: string) => name is T {
  const names: ReadonlySet<string> = new Set(list);
  return (name): name is T => names.has(name);
}

/** Whether an element name is one of {@link LEASE_FIELDS}. */
export const isLeaseField = memberOf(LEASE_FIELDS);

/** Whether an element name is one of {@link STRING_FIELDS}. */
export const isStringField = memberOf(STRING_FIELDS);
