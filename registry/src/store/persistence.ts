// Connects the registry to its store: changes are written as they happen (a registration must survive a crash right
// after its 204), renewals are collected and written once per interval in one transaction, so a heartbeat never
// waits for the disk.
import type { Logger } from '@trellis/kit';
import { instanceTextProblem } from '../eureka/index.ts';
import type { InstanceInfo } from '../eureka/index.ts';
import { admitInstance } from '../registry/limits.ts';
import type { Admission, RegistrationLimits } from '../registry/limits.ts';
import type { LeaseRecord } from '../registry/events.ts';
import type { Registry } from '../registry/registry.ts';
import type { RegistryStore, RenewalWrite } from './store.ts';

export interface PersistenceOptions {
  readonly registry: Registry;
  readonly store: RegistryStore;
  readonly log: Logger;
  /** How often collected renewals are written. Default 1 s. */
  readonly flushIntervalMs?: number;
  /** Told when a change could not be stored, synchronously, so the request that made it is not acknowledged. */
  readonly onWriteFailed?: () => void;
}

export interface Persistence {
  /** Writes the collected renewals now. */
  flush(): void;
  /** Unsubscribes, writes what is pending and stops the timer; the store stays open. */
  stop(): void;
}

/**
 * Loads the stored leases into the registry (with the restore grace), then keeps the store up to date.
 * @example const persistence = persistRegistry({ registry, store, log }); service.onShutdown('store', () => { persistence.stop(); store.close(); });
 */
export function persistRegistry(
  options: PersistenceOptions,
  restore: { graceMs?: number; limits?: RegistrationLimits } = {},
): Persistence {
  const { registry, store, log } = options;
  const stored = store.load();
  for (const bad of stored.skipped) log.warn(bad, 'dropped an unreadable stored instance');
  const { limits, ...grace } = restore;
  const leases = admitStored(stored.leases, limits, options, stored.version);
  const restored = registry.restore(leases, { version: stored.version, ...grace });
  if (restored > 0) log.info({ instances: restored }, 'restored instances from the store');

  let pending = new Map<string, RenewalWrite>();
  const flush = (): void => {
    if (pending.size === 0) return;
    const batch = [...pending.values()];
    pending = new Map();
    try {
      store.saveRenewals(batch);
    } catch (err) {
      log.error({ err, renewals: batch.length }, 'could not save renewals');
    }
  };
  const offChange = registry.onChange((change) => {
    const { app, instanceId } = change.instance;
    try {
      if (change.action === 'DELETED') store.remove(app, instanceId, change.version);
      else store.save(change.lease, change.version);
    } catch (err) {
      log.error({ err, app, id: instanceId }, 'could not save a registry change');
      options.onWriteFailed?.();
    }
  });
  const offRenewal = registry.onRenewal((renewal) => {
    pending.set(`${renewal.app}/${renewal.id}`, { app: renewal.app, id: renewal.id, at: renewal.at });
  });
  const timer = setInterval(flush, options.flushIntervalMs ?? 1000);
  timer.unref();
  return {
    flush,
    stop: () => {
      clearInterval(timer);
      offChange();
      offRenewal();
      flush();
    },
  };
}

/**
 * Stored leases held to today's limits (or, without limits, to the texts the registry takes): what an open registry took before them (a year-long lease, a timestamp from
 * the future that pins a forged copy, 900 KB of metadata) must not come back with every restart. Offending leases
 * are dropped from the store too; lease times above the ceiling are lowered.
 */
function admitStored(
  leases: readonly LeaseRecord[],
  limits: RegistrationLimits | undefined,
  options: PersistenceOptions,
  version: number,
): LeaseRecord[] {
  const { registry, store, log } = options;
  const admitted: LeaseRecord[] = [];
  for (const lease of leases) {
    const { app, instanceId } = lease.instance;
    const result =
      limits === undefined
        ? admitText(lease.instance)
        : admitInstance(lease.instance, limits, registry.now(), { measure: true });
    if (result.ok) {
      admitted.push(result.value === lease.instance ? lease : { ...lease, instance: result.value });
      continue;
    }
    log.warn({ app, id: instanceId, reason: result.violation.message }, 'dropped a stored instance over the limits');
    try {
      store.remove(app, instanceId, version);
    } catch (err) {
      log.error({ err, app, id: instanceId }, 'could not remove a stored instance over the limits');
    }
  }
  return admitted;
}

/**
 * Without limits, still the texts: a control character stored before the registry refused them would make every XML
 * answer unreadable to Java clients again after each restart.
 */
function admitText(instance: InstanceInfo): Admission<InstanceInfo> {
  const problem = instanceTextProblem(instance);
  return problem === undefined
    ? { ok: true, value: instance }
    : { ok: false, violation: { kind: 'invalid', message: problem } };
}
