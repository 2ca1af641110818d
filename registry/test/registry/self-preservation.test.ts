import { describe, expect, it } from 'vitest';
import { evictionLimit, selfPreservation } from '../../src/registry/self-preservation.ts';
import type { SelfPreservationInput } from '../../src/registry/self-preservation.ts';

const base: SelfPreservationInput = {
  enabled: true,
  minInstances: 7,
  renewalPercent: 0.85,
  establishedInstances: 10,
  expectedRenewalsPerMinute: 20,
  renewsLastMinute: 20,
};

describe('selfPreservation (the rule)', () => {
  it('engages only when enabled, with enough established instances, and renewals below 85% of expected', () => {
    expect(selfPreservation({ ...base, renewsLastMinute: 16 }).engaged).toBe(true);
    expect(selfPreservation({ ...base, renewsLastMinute: 17 }).engaged).toBe(false);
    expect(selfPreservation({ ...base, renewsLastMinute: 0, enabled: false }).engaged).toBe(false);
    expect(selfPreservation({ ...base, renewsLastMinute: 0, establishedInstances: 6 }).engaged).toBe(false);
    expect(selfPreservation({ ...base, renewsLastMinute: 0, establishedInstances: 7 }).engaged).toBe(true);
  });

  it('computes the threshold as floor(expected × percent) from each instance’s own rate', () => {
    // 3 instances at 30 s (2/min) and 2 at 10 s (6/min) promise 18 renewals a minute.
    expect(selfPreservation({ ...base, expectedRenewalsPerMinute: 18 }).threshold).toBe(15);
    expect(selfPreservation({ ...base, expectedRenewalsPerMinute: 20, renewalPercent: 0.5 }).threshold).toBe(10);
  });

  it('explains each state in plain words with the numbers behind it', () => {
    expect(selfPreservation({ ...base, enabled: false }).explanation).toBe(
      'Self-preservation is off: an instance that stops renewing is removed when its lease expires.',
    );
    expect(selfPreservation({ ...base, establishedInstances: 3 }).explanation).toBe(
      'Self-preservation is standing by: it only engages with at least 7 instances that have renewed for a minute ' +
        '(now 3), so in a small landscape a dead instance is always removed.',
    );
    expect(selfPreservation({ ...base, renewsLastMinute: 4 }).explanation).toBe(
      'Self-preservation is ON: 4 renewals arrived in the last minute, fewer than 17 (85% of the 20 the instances ' +
        'promise). The registry assumes a network problem on its side and removes no expired instance until ' +
        'renewals recover.',
    );
    expect(selfPreservation(base).explanation).toBe(
      'Self-preservation is ready but not needed: 20 renewals in the last minute meet the threshold of 17 ' +
        '(85% of 20 expected), so expired instances are removed.',
    );
  });
});

describe('evictionLimit', () => {
  it.each([
    [1, 1],
    [3, 1],
    [7, 2],
    [20, 3],
    [100, 15],
  ])('allows %i instances to lose %i per sweep', (size, limit) => {
    expect(evictionLimit(size, 0.85)).toBe(limit);
  });
});
