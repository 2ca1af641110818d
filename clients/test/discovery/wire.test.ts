import { describe, expect, it } from 'vitest';
import { DiscoveryError } from '../../src/discovery/errors.ts';
import { parseJson, readApplications, readInstance, readWatchChange } from '../../src/discovery/wire.ts';
import { RECORDED_APPS } from './helpers.ts';

describe('readApplications (the client view of GET /eureka/apps)', () => {
  it('reads the recorded Spring Eureka server answer', () => {
    const doc = readApplications(JSON.parse(RECORDED_APPS));
    expect(doc.versionsDelta).toBe('1');
    expect(doc.appsHashCode).toBe('UP_1_');
    expect(doc.instances).toEqual([
      {
        instanceId: 'host:eurekaconsumer:9002',
        app: 'EUREKACONSUMER',
        hostName: '10.8.30.55',
        ipAddr: '10.8.30.55',
        status: 'UP',
        overriddenStatus: 'UNKNOWN',
        port: { port: 9002, enabled: true },
        securePort: { port: 443, enabled: false },
        metadata: { 'management.port': '9002' },
        vipAddress: 'eurekaconsumer',
        homePageUrl: 'http://10.8.30.55:9002/',
        statusPageUrl: 'http://10.8.30.55:9002/actuator/info',
        healthCheckUrl: 'http://10.8.30.55:9002/actuator/health',
        leaseInfo: {
          renewalIntervalInSecs: 30,
          durationInSecs: 90,
          registrationTimestamp: 1606972241104,
          lastRenewalTimestamp: 1606977221655,
          evictionTimestamp: 0,
          serviceUpTimestamp: 1606972240279,
        },
        lastDirtyTimestamp: 1606972240190,
        actionType: 'ADDED',
      },
    ]);
  });

  it('accepts the shapes older servers and other clients produce', () => {
    const doc = readApplications({
      applications: {
        versions__delta: 7,
        apps__hashcode: 'DOWN_1_UP_1_',
        // XStream-era JSON: a lone application and a lone instance as objects, not arrays.
        application: {
          name: 'review',
          instance: {
            hostName: 'h1',
            status: 'down',
            overriddenstatus: 'OUT_OF_SERVICE',
            port: { $: '7003', '@enabled': true },
            securePort: { $: 8443, '@enabled': 'TRUE' },
            metadata: { '@class': 'java.util.Collections$EmptyMap' },
            leaseInfo: { renewalTimestamp: '42' },
          },
        },
      },
    });
    expect(doc.versionsDelta).toBe('7');
    const [i] = doc.instances;
    expect(i?.app).toBe('REVIEW');
    expect(i?.instanceId).toBe('h1');
    expect(i?.ipAddr).toBe('h1');
    expect(i?.status).toBe('DOWN');
    expect(i?.overriddenStatus).toBe('OUT_OF_SERVICE');
    expect(i?.port).toEqual({ port: 7003, enabled: true });
    expect(i?.securePort).toEqual({ port: 8443, enabled: true });
    expect(i?.metadata).toEqual({});
    expect(i?.leaseInfo?.lastRenewalTimestamp).toBe(42);
    expect(i?.lastDirtyTimestamp).toBe(0);
  });

  it('reads an empty registry (no application key) as no instances', () => {
    expect(readApplications({ applications: { versions__delta: '1', apps__hashcode: '' } }).instances).toEqual([]);
  });

  it('skips an instance without a host rather than failing the whole fetch', () => {
    const doc = readApplications({
      applications: {
        application: [
          {
            name: 'A',
            instance: [
              { app: 'A', status: 'UP' },
              { app: 'A', hostName: 'ok', status: 'UP' },
            ],
          },
        ],
      },
    });
    expect(doc.instances.map((i) => i.hostName)).toEqual(['ok']);
  });

  it('reads an unknown status as UNKNOWN, which is never a candidate', () => {
    expect(readInstance({ app: 'a', hostName: 'h', status: 'SLEEPING' })?.status).toBe('UNKNOWN');
  });

  it('upper-cases app names by ASCII alone, so "compoſite" is never taken for COMPOSITE', () => {
    expect(readInstance({ app: 'product-compo\u017fite', hostName: 'h' })?.app).toBe('PRODUCT-COMPO\u017fITE');
    expect(readInstance({ app: 'review-\u0131', hostName: 'h' })?.app).toBe('REVIEW-\u0131');
    expect(readInstance({ app: 'review', hostName: 'h' })?.app).toBe('REVIEW');
  });

  it('does not let a "__proto__" metadata key reach the prototype', () => {
    const i = readInstance(JSON.parse('{"app":"a","hostName":"h","metadata":{"__proto__":{"x":"1"},"zone":"z1"}}'));
    expect(i?.metadata).toEqual({ zone: 'z1' });
    expect(Object.getPrototypeOf(i?.metadata)).toBe(Object.prototype);
  });

  it('rejects a body without "applications" with invalid_response', () => {
    expect(() => readApplications({ application: [] })).toThrow(DiscoveryError);
    expect(() => parseJson('<applications/>', 'GET apps/')).toThrow(/GET apps\/ is not JSON/);
  });
});

describe('readWatchChange', () => {
  it('reads a change event of the watch stream', () => {
    const change = readWatchChange({
      action: 'MODIFIED',
      instance: {
        instanceId: 'h:review:1',
        app: 'REVIEW',
        hostName: 'h',
        status: 'DOWN',
        port: { $: 1, '@enabled': 'true' },
      },
      versionsDelta: '12',
      appsHashCode: 'DOWN_1_',
    });
    expect(change.action).toBe('MODIFIED');
    expect(change.instance.instanceId).toBe('h:review:1');
    expect(change.instance.status).toBe('DOWN');
    expect(change.versionsDelta).toBe('12');
    expect(change.appsHashCode).toBe('DOWN_1_');
  });

  it('rejects an event with an unknown action', () => {
    expect(() => readWatchChange({ action: 'RENAMED', instance: { app: 'a', hostName: 'h' } })).toThrow(/action/);
  });
});
