// Eureka decides the status it serves with a chain of InstanceStatusOverrideRules (DownOrStartingRule,
// OverrideExistsRule, LeaseExistsRule, AlwaysMatchInstanceStatusRule) and overwrites the instance's own status with
// the result, so the status the instance reported is lost and has to be re-learnt through a 404 → re-register dance.
// We keep the reported status and the override side by side and derive the served status from both, every time.
import type { InstanceStatus } from '../eureka/index.ts';

/** The value of `overriddenStatus` that means "no override", as in Eureka. */
export const NO_OVERRIDE: InstanceStatus = 'UNKNOWN';

/**
 * The status the registry serves for an instance.
 *
 * 1. An instance that says it is DOWN or STARTING cannot take traffic, whatever an operator set (DownOrStartingRule).
 * 2. Otherwise an operator's override wins (OverrideExistsRule).
 * 3. Otherwise the instance's own status (AlwaysMatchInstanceStatusRule).
 *
 * Eureka's LeaseExistsRule is left out: it only re-creates an override that a peer lost, and we persist overrides
 * and replicate them.
 *
 * @example effectiveStatus('UP', 'OUT_OF_SERVICE') // 'OUT_OF_SERVICE'
 * @example effectiveStatus('DOWN', 'UP')            // 'DOWN'
 */
export function effectiveStatus(reported: InstanceStatus, overridden: InstanceStatus): InstanceStatus {
  if (reported === 'DOWN' || reported === 'STARTING') return reported;
  if (overridden !== NO_OVERRIDE) return overridden;
  return reported;
}
