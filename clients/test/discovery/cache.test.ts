import { describe, expect, it } from 'vitest';
import { InstanceCache, reconcileHashCode } from '../../src/discovery/cache.ts';
import { readApplications, type ApplicationsDocument, type ServiceInstance } from '../../src/discovery/wire.ts';
import { instance, RECORDED_APPS } from './helpers.ts';

function doc(
  instances: ServiceInstance[],
  appsHashCode = reconcileHashCode(instances),
  versionsDelta = '1',
): ApplicationsDocument {
  return { versionsDelta, appsHashCode, instances };
}

describe('reconcileHashCode (apps__hashcode)', () => {
  it('counts per status in alphabetical order of status names', () => {
    const statuses = ['UP', 'DOWN', 'UP', 'STARTING', 'OUT_OF_SERVICE', 'UP', 'UNKNOWN'] as const;
    expect(reconcileHashCode(statuses.map((status) => ({ status })))).toBe(
      'DOWN_1_OUT_OF_SERVICE_1_STARTING_1_UNKNOWN_1_UP_3_',
    );
  });

  it('leaves out statuses without instances and hashes an empty registry to ""', () => {
    expect(reconcileHashCode([{ status: 'UP' }, { status: 'DOWN' }])).toBe('DOWN_1_UP_1_');
    expect(reconcileHashCode([])).toBe('');
  });

  it('matches the hashcode of the recorded server answer', () => {
    const recorded = readApplications(JSON.parse(RECORDED_APPS));
    expect(reconcileHashCode(recorded.instances)).toBe(recorded.appsHashCode);
  });
});

describe('InstanceCache', () => {
  it('offers only UP instances as candidates, sorted by instance id, and all of them on request', () => {
    const cache = new InstanceCache();
    cache.replace(
      doc([
        instance('review', 'r3'),
        instance('review', 'r1'),
        instance('review', 'r2', { status: 'DOWN' }),
        instance('review', 'r4', { status: 'STARTING' }),
        instance('review', 'r5', { status: 'OUT_OF_SERVICE' }),
      ]),
    );
    expect(cache.up('review').map((i) => i.instanceId)).toEqual(['r1', 'r3']);
    expect(cache.all('REVIEW').map((i) => i.instanceId)).toEqual(['r1', 'r2', 'r3', 'r4', 'r5']);
    expect(cache.up('Review')).toBe(cache.up('review'));
    expect(cache.up('product')).toEqual([]);
  });

  it('reports a replacement as per-instance changes, ignoring lease timestamps', () => {
    const cache = new InstanceCache();
    const lease = (t: number) => ({
      renewalIntervalInSecs: 30,
      durationInSecs: 90,
      registrationTimestamp: 1,
      lastRenewalTimestamp: t,
      evictionTimestamp: 0,
      serviceUpTimestamp: 1,
    });
    cache.replace(doc([instance('a', 'a1', { leaseInfo: lease(1) }), instance('a', 'a2'), instance('b', 'b1')]));
    const changes = cache.replace(
      doc([instance('a', 'a1', { leaseInfo: lease(2) }), instance('a', 'a2', { status: 'DOWN' }), instance('c', 'c1')]),
    );
    expect(changes.map((c) => `${c.type} ${c.instance.instanceId}`).sort()).toEqual([
      'ADDED c1',
      'DELETED b1',
      'MODIFIED a2',
    ]);
    expect(changes.find((c) => c.type === 'MODIFIED')?.previous?.status).toBe('UP');
    expect(cache.applications()).toEqual(['A', 'C']);
    expect(cache.get('a', 'a1')?.leaseInfo?.lastRenewalTimestamp).toBe(2);
  });

  it('applies a delta by actionType and keeps the hashcode in step with the server', () => {
    const cache = new InstanceCache();
    cache.replace(doc([instance('a', 'a1'), instance('a', 'a2'), instance('b', 'b1')], 'UP_3_', '5'));
    const { changes, hashMatches } = cache.applyDelta(
      doc(
        [
          instance('c', 'c1', { actionType: 'ADDED' }),
          instance('a', 'a2', { actionType: 'MODIFIED', status: 'DOWN' }),
          instance('b', 'b1', { actionType: 'DELETED' }),
        ],
        'DOWN_1_UP_2_',
        '6',
      ),
    );
    expect(hashMatches).toBe(true);
    expect(cache.hashCode()).toBe('DOWN_1_UP_2_');
    expect(cache.versionsDelta).toBe('6');
    expect(changes.map((c) => c.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(cache.up('a').map((i) => i.instanceId)).toEqual(['a1']);
    expect(cache.applications()).toEqual(['A', 'C']);
  });

  it('reports a hashcode mismatch when a delta was missed, so the client fetches everything', () => {
    const cache = new InstanceCache();
    cache.replace(doc([instance('a', 'a1')]));
    // The server also registered a2 in a delta this client never saw; its hash counts both.
    const { hashMatches } = cache.applyDelta(doc([instance('a', 'a3', { actionType: 'ADDED' })], 'UP_3_'));
    expect(hashMatches).toBe(false);
    expect(cache.hashCode()).toBe('UP_2_');
    // The full fetch that follows brings the cache back in step.
    cache.replace(doc([instance('a', 'a1'), instance('a', 'a2'), instance('a', 'a3')], 'UP_3_'));
    expect(cache.hashCode()).toBe('UP_3_');
  });

  it('treats MODIFIED of an unknown instance as an addition and DELETED of one as nothing', () => {
    const cache = new InstanceCache();
    expect(cache.apply('MODIFIED', instance('a', 'a9'))?.type).toBe('ADDED');
    expect(cache.apply('DELETED', instance('a', 'zz'))).toBeUndefined();
    expect(cache.apply('MODIFIED', instance('a', 'a9'))).toBeUndefined();
    expect(cache.size).toBe(1);
  });
});
