import { describe, expect, it } from 'vitest';
import { INSTANCE_STATUSES, appsHashCode } from '../../src/eureka/index.ts';
import type { InstanceStatus } from '../../src/eureka/index.ts';

function statuses(...list: InstanceStatus[]): { status: InstanceStatus }[] {
  return list.map((status) => ({ status }));
}

describe('appsHashCode (Applications.getReconcileHashCode)', () => {
  it('renders the empty registry as the empty string', () => {
    expect(appsHashCode([])).toBe('');
  });

  it('counts per status in alphabetical order of status names', () => {
    expect(appsHashCode(statuses('UP', 'DOWN', 'UP', 'UP'))).toBe('DOWN_1_UP_3_');
  });

  it('covers every status in TreeMap (String) order', () => {
    const all = statuses('UP', 'UNKNOWN', 'STARTING', 'OUT_OF_SERVICE', 'DOWN', 'UP', 'STARTING');
    expect(appsHashCode(all)).toBe('DOWN_1_OUT_OF_SERVICE_1_STARTING_2_UNKNOWN_1_UP_2_');
    // The order above must be what a string sort of the enum names gives.
    expect([...INSTANCE_STATUSES].sort()).toEqual(['DOWN', 'OUT_OF_SERVICE', 'STARTING', 'UNKNOWN', 'UP']);
  });

  it('leaves out statuses without instances', () => {
    expect(appsHashCode(statuses('OUT_OF_SERVICE', 'OUT_OF_SERVICE'))).toBe('OUT_OF_SERVICE_2_');
  });

  it('counts the effective status, not the overridden one', () => {
    expect(appsHashCode([{ status: 'UP', overriddenStatus: 'OUT_OF_SERVICE' } as { status: InstanceStatus }])).toBe(
      'UP_1_',
    );
  });

  it('accepts any iterable, e.g. a store’s values()', () => {
    const byId = new Map<string, { status: InstanceStatus }>([
      ['a', { status: 'UP' }],
      ['b', { status: 'STARTING' }],
    ]);
    expect(appsHashCode(byId.values())).toBe('STARTING_1_UP_1_');
  });
});
