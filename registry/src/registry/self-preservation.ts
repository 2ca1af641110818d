// Self-preservation: when far fewer renewals arrive than the registered instances promise, the likelier cause is a
// network problem on the registry's side than a mass death, so the registry stops evicting until renewals recover.
// Eureka's version is the top complaint about it (it engages in small landscapes and keeps dead instances forever);
// this one is the same idea with the conditions spelled out, in one function, with the sentence the dashboard shows.

export interface SelfPreservationSettings {
  /** Off: expired leases are always evicted. */
  readonly enabled: boolean;
  /** Below this many established instances it never engages. */
  readonly minInstances: number;
  /** Share of the expected renewals that must arrive (Eureka's renewalPercentThreshold, 0.85). */
  readonly renewalPercent: number;
}

export interface SelfPreservationInput extends SelfPreservationSettings {
  /**
   * Instances that have been renewing for at least a minute (registered a minute ago, or restored and renewed since
   * at least a minute). Newcomers cannot have a minute of renewals yet, so they would look like missing renewals.
   */
  readonly establishedInstances: number;
  /** Sum over established instances of 60 / renewalIntervalInSecs: each instance's own heartbeat rate. */
  readonly expectedRenewalsPerMinute: number;
  readonly renewsLastMinute: number;
}

export interface SelfPreservationState {
  readonly enabled: boolean;
  /** True while evictions are suspended. */
  readonly engaged: boolean;
  /** Renewals per minute below which it engages: floor(expected × renewalPercent). */
  readonly threshold: number;
  readonly expectedRenewalsPerMinute: number;
  readonly renewsLastMinute: number;
  readonly establishedInstances: number;
  readonly minInstances: number;
  /** One plain sentence for the dashboard and the health details. */
  readonly explanation: string;
}

/**
 * The self-preservation rule. It engages only when all three hold:
 * it is enabled; at least `minInstances` instances are established; and the renewals of the last minute fall below
 * `renewalPercent` of what those instances promise. While engaged, no lease expires.
 *
 * @example
 * selfPreservation({ enabled: true, minInstances: 7, renewalPercent: 0.85,
 *   establishedInstances: 10, expectedRenewalsPerMinute: 20, renewsLastMinute: 4 }).engaged // true
 */
export function selfPreservation(input: SelfPreservationInput): SelfPreservationState {
  const expected = input.expectedRenewalsPerMinute;
  const threshold = Math.floor(expected * input.renewalPercent);
  const percent = Math.round(input.renewalPercent * 100);
  const renews = input.renewsLastMinute;
  const count = input.establishedInstances;
  const base = {
    enabled: input.enabled,
    threshold,
    expectedRenewalsPerMinute: round(expected),
    renewsLastMinute: renews,
    establishedInstances: count,
    minInstances: input.minInstances,
  };
  if (!input.enabled) {
    return {
      ...base,
      engaged: false,
      explanation: 'Self-preservation is off: an instance that stops renewing is removed when its lease expires.',
    };
  }
  if (count < input.minInstances) {
    return {
      ...base,
      engaged: false,
      explanation:
        `Self-preservation is standing by: it only engages with at least ${input.minInstances} instances that have ` +
        `renewed for a minute (now ${count}), so in a small landscape a dead instance is always removed.`,
    };
  }
  if (renews < threshold) {
    return {
      ...base,
      engaged: true,
      explanation:
        `Self-preservation is ON: ${renews} renewals arrived in the last minute, fewer than ${threshold} ` +
        `(${percent}% of the ${round(expected)} the instances promise). The registry assumes a network problem on its ` +
        'side and removes no expired instance until renewals recover.',
    };
  }
  return {
    ...base,
    engaged: false,
    explanation:
      `Self-preservation is ready but not needed: ${renews} renewals in the last minute meet the threshold of ` +
      `${threshold} (${percent}% of ${round(expected)} expected), so expired instances are removed.`,
  };
}

/** How many expired leases one sweep may remove while self-preservation is on: size - floor(size × percent), as Eureka. */
export function evictionLimit(registrySize: number, renewalPercent: number): number {
  return registrySize - Math.floor(registrySize * renewalPercent);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
