// What one registration may claim and how much the registry holds. Eureka trusts every registration; a registry
// reachable by more than its own services must not: a forged lease of a year, a lastDirtyTimestamp in the future
// (it would make the registry keep the forged copy over every later registration of the real instance, which
// then renews it) or 900 KB of metadata per instance would each hold or exhaust the registry. Pure: no HTTP.
import { asciiUpperCase, instanceTextProblem } from '../eureka/index.ts';
import type { InstanceInfo } from '../eureka/index.ts';
import type { LimitViolation } from '../errors.ts';
import type { Registry } from './registry.ts';

export interface RegistrationLimits {
  /** Largest registration (body of POST /apps/{APP}, or an instance in a replication batch), in bytes. */
  readonly maxInstanceBytes: number;
  /** Most instances held in all; a registration of a new instance beyond it is refused. */
  readonly maxInstances: number;
  /** Most instances held per application. */
  readonly maxInstancesPerApp: number;
  /** Most metadata entries per instance (registration or PUT …/metadata). */
  readonly maxMetadataEntries: number;
  /** Most metadata bytes per instance: keys and values, UTF-8. */
  readonly maxMetadataBytes: number;
  /** Ceiling of leaseInfo.durationInSecs and renewalIntervalInSecs; larger values are lowered to it. */
  readonly maxLeaseSecs: number;
  /** How far ahead of this registry's clock a lastDirtyTimestamp may be before it is refused. */
  readonly maxClockSkewMs: number;
}

/**
 * The defaults: far above what real clients send (a Spring Boot registration is about 1.5 KB with one metadata
 * entry; Eureka's own lease is 90 s, renewed every 30 s) and far below what hurts (10,000 instances at the
 * ceiling hold about 320 MB at most).
 */
export const DEFAULT_LIMITS: RegistrationLimits = Object.freeze({
  maxInstanceBytes: 32 * 1024,
  maxInstances: 20_000,
  maxInstancesPerApp: 2_000,
  maxMetadataEntries: 64,
  maxMetadataBytes: 8 * 1024,
  maxLeaseSecs: 300,
  maxClockSkewMs: 60_000,
});

/** Why a write was refused: `too_large` → 413, `too_many` → 429, `invalid` → 400, `taken` → 409. */
export type Admission<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly violation: LimitViolation };

/** Refuses a lastDirtyTimestamp beyond the allowed clock skew; undefined when acceptable (or absent). */
export function futureTimestamp(
  timestamp: number | undefined,
  limits: RegistrationLimits,
  now: number,
  name = 'lastDirtyTimestamp',
): LimitViolation | undefined {
  if (timestamp === undefined || timestamp <= now + limits.maxClockSkewMs) return undefined;
  return {
    kind: 'invalid',
    message: `${name} ${timestamp} is ${Math.round((timestamp - now) / 1000)} s ahead of the registry's clock (at most ${limits.maxClockSkewMs / 1000} s allowed)`,
  };
}

/** Checks a metadata map against the entry and byte ceilings. */
export function metadataViolation(
  metadata: Readonly<Record<string, string>>,
  limits: RegistrationLimits,
): LimitViolation | undefined {
  const keys = Object.keys(metadata);
  if (keys.length > limits.maxMetadataEntries) {
    return {
      kind: 'too_large',
      message: `metadata has ${keys.length} entries; at most ${limits.maxMetadataEntries} are allowed`,
    };
  }
  let bytes = 0;
  for (const key of keys) bytes += Buffer.byteLength(key, 'utf8') + Buffer.byteLength(metadata[key] ?? '', 'utf8');
  if (bytes > limits.maxMetadataBytes) {
    return { kind: 'too_large', message: `metadata is ${bytes} bytes; at most ${limits.maxMetadataBytes} are allowed` };
  }
  return undefined;
}

/**
 * Admits a parsed registration: refuses names and texts the registry does not take (see instanceTextProblem: a parsed
 * body was checked already, a stored or hand-built instance is checked here), a lastDirtyTimestamp from the future,
 * oversized metadata or (for instances
 * that did not come as a body of known size, such as replicated ones) an oversized instance, and lowers the lease
 * times to the ceiling.
 */
export function admitInstance(
  instance: InstanceInfo,
  limits: RegistrationLimits,
  now: number,
  options: { readonly measure?: boolean } = {},
): Admission<InstanceInfo> {
  const badText = instanceTextProblem(instance);
  if (badText !== undefined) return { ok: false, violation: { kind: 'invalid', message: badText } };
  const future = futureTimestamp(instance.lastDirtyTimestamp, limits, now);
  if (future !== undefined) return { ok: false, violation: future };
  const metadata = metadataViolation(instance.metadata, limits);
  if (metadata !== undefined) return { ok: false, violation: metadata };
  if (options.measure === true) {
    const bytes = contentBytes(instance);
    if (bytes > limits.maxInstanceBytes) return { ok: false, violation: bodyTooLarge(bytes, limits) };
  }
  return { ok: true, value: clampLease(instance, limits) };
}

/**
 * The bytes of what an instance carries that can grow: its texts and metadata. A body that carried them was at least
 * this large (syntax and escapes only add), so an instance admitted as a body is never refused when measured again
 * (replicated to a peer, restored after a restart).
 */
function contentBytes(instance: InstanceInfo): number {
  let bytes = 0;
  const add = (text: string | null): void => {
    if (text !== null) bytes += Buffer.byteLength(text, 'utf8');
  };
  for (const text of [
    instance.instanceId,
    instance.app,
    instance.appGroupName,
    instance.ipAddr,
    instance.sid,
    instance.hostName,
    instance.homePageUrl,
    instance.statusPageUrl,
    instance.healthCheckUrl,
    instance.secureHealthCheckUrl,
    instance.vipAddress,
    instance.secureVipAddress,
    instance.asgName,
  ]) {
    add(text);
  }
  for (const map of [instance.metadata, instance.dataCenterInfo.metadata ?? {}]) {
    for (const [key, value] of Object.entries(map)) {
      add(key);
      add(value);
    }
  }
  return bytes;
}

/** The instance with leaseInfo's durationInSecs and renewalIntervalInSecs lowered to the ceiling. */
export function clampLease(instance: InstanceInfo, limits: RegistrationLimits): InstanceInfo {
  const { durationInSecs, renewalIntervalInSecs } = instance.leaseInfo;
  if (durationInSecs <= limits.maxLeaseSecs && renewalIntervalInSecs <= limits.maxLeaseSecs) return instance;
  return {
    ...instance,
    leaseInfo: {
      ...instance.leaseInfo,
      durationInSecs: Math.min(durationInSecs, limits.maxLeaseSecs),
      renewalIntervalInSecs: Math.min(renewalIntervalInSecs, limits.maxLeaseSecs),
    },
  };
}

/** A registration over the instance size: the body's length, or what a replicated or stored instance carries. */
export function bodyTooLarge(bytes: number, limits: RegistrationLimits): LimitViolation {
  return {
    kind: 'too_large',
    message: `registration is ${bytes} bytes; at most ${limits.maxInstanceBytes} are allowed`,
  };
}

/** Whether the registry has room for this instance: re-registering one it holds always has. */
export function capacityViolation(
  held: { readonly exists: boolean; readonly total: number; readonly inApp: number },
  app: string,
  limits: RegistrationLimits,
): LimitViolation | undefined {
  if (held.exists) return undefined;
  if (held.inApp >= limits.maxInstancesPerApp) {
    return {
      kind: 'too_many',
      message: `${app} already has ${held.inApp} instances; at most ${limits.maxInstancesPerApp} are allowed per application`,
    };
  }
  if (held.total >= limits.maxInstances) {
    return {
      kind: 'too_many',
      message: `the registry holds ${held.total} instances; at most ${limits.maxInstances} are allowed`,
    };
  }
  return undefined;
}

/**
 * An instance id held by another application. Without this, a credential limited to REVIEW could register REVIEW/pc1
 * beside PRODUCT-COMPOSITE/pc1 and be what GET /instances/pc1 answers. The reason names the holder's application
 * only (a client may read that from GET /apps anyway), never its host, address or anything else it registered.
 */
export function idTaken(id: string, holder: string): LimitViolation {
  return {
    kind: 'taken',
    message: `instanceId ${id} is registered under another application (${holder}); an instance id belongs to one application at a time`,
  };
}

/** Whether another application than the instance's holds its id; undefined when free or held by its own. */
export function takenViolation(registry: Registry, instance: InstanceInfo): LimitViolation | undefined {
  const holder = registry.holderOf(instance.instanceId);
  return holder === undefined || holder === asciiUpperCase(instance.app)
    ? undefined
    : idTaken(instance.instanceId, holder);
}

/**
 * Admits a registration before anything changes: the instance's own limits (see admitInstance), then that its id is
 * not another application's, then room for it in its application and in the registry. `measure` for instances that
 * did not arrive as a body of checked size.
 */
export function admitRegistration(
  registry: Registry,
  instance: InstanceInfo,
  limits: RegistrationLimits,
  options: { readonly measure?: boolean } = {},
): Admission<InstanceInfo> {
  const admitted = admitInstance(instance, limits, registry.now(), options);
  if (!admitted.ok) return admitted;
  const taken = takenViolation(registry, instance);
  if (taken !== undefined) return { ok: false, violation: taken };
  const full = capacityViolation(
    {
      exists: registry.has(instance.app, instance.instanceId),
      total: registry.size,
      inApp: registry.applicationSize(instance.app),
    },
    instance.app,
    limits,
  );
  return full === undefined ? admitted : { ok: false, violation: full };
}
