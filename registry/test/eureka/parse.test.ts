import { describe, expect, it } from 'vitest';
import { parseInstance, renderInstance } from '../../src/eureka/index.ts';
import type { InstanceInfo, WireResult } from '../../src/eureka/index.ts';
import {
  EUREKA_JS_CLIENT_REGISTRATION_JSON,
  SPRING_INSTANCE_AS_SERVED_JSON,
  SPRING_REGISTRATION_JSON,
} from './fixtures.ts';

const NOW = 1_700_000_000_000;

function expectOk(result: WireResult<InstanceInfo>): InstanceInfo {
  if (!result.ok) throw new Error(`expected a parsed instance, got ${result.error.message}`);
  return result.value;
}

/** A minimal JSON registration with overrides merged into the instance object. */
function body(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    instance: {
      instanceId: 'host-1:svc:8080',
      app: 'SVC',
      hostName: 'host-1',
      ipAddr: '10.0.0.1',
      dataCenterInfo: { '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      ...overrides,
    },
  });
}

function parseWith(overrides: Record<string, unknown>): InstanceInfo {
  return expectOk(parseInstance(body(overrides), 'application/json', 'SVC', { now: NOW }));
}

describe('parseInstance: Spring registration body', () => {
  const instance = expectOk(parseInstance(SPRING_REGISTRATION_JSON, 'application/json', 'WEBSERVICE', { now: NOW }));

  it('reads every field of the recorded body into the model', () => {
    expect(instance).toEqual({
      instanceId: 'host.docker.internal:webservice:8082',
      app: 'WEBSERVICE',
      appGroupName: null,
      ipAddr: '192.168.2.1',
      sid: 'na',
      hostName: 'host.docker.internal',
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      port: { value: 8082, enabled: true },
      securePort: { value: 443, enabled: false },
      countryId: 1,
      dataCenterInfo: { className: 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' },
      leaseInfo: {
        renewalIntervalInSecs: 30,
        durationInSecs: 90,
        registrationTimestamp: 0,
        lastRenewalTimestamp: 0,
        evictionTimestamp: 0,
        serviceUpTimestamp: 0,
      },
      metadata: { 'management.port': '8082' },
      homePageUrl: 'http://host.docker.internal:8082/',
      statusPageUrl: 'http://host.docker.internal:8082/actuator/info',
      healthCheckUrl: 'http://host.docker.internal:8082/actuator/health',
      secureHealthCheckUrl: null,
      vipAddress: 'webservice',
      secureVipAddress: 'webservice',
      isCoordinatingDiscoveryServer: false,
      lastUpdatedTimestamp: 1630906180645,
      lastDirtyTimestamp: 1630906182808,
      actionType: null,
      asgName: null,
    });
  });

  it('re-renders exactly as Eureka serves it (server field order, strings where Eureka writes strings)', () => {
    expect(renderInstance(instance, { format: 'json' })).toBe(SPRING_INSTANCE_AS_SERVED_JSON);
  });

  it('re-renders to the same parsed shape as the expected server document', () => {
    const ours = JSON.parse(renderInstance(instance, { format: 'json' })) as { instance: Record<string, unknown> };
    const expected = JSON.parse(SPRING_INSTANCE_AS_SERVED_JSON) as { instance: Record<string, unknown> };
    expect(ours).toEqual(expected);
    expect(typeof ours.instance['lastDirtyTimestamp']).toBe('string');
    expect(typeof ours.instance['isCoordinatingDiscoveryServer']).toBe('string');
    expect(ours.instance['port']).toEqual({ $: 8082, '@enabled': 'true' });
  });
});

describe('parseInstance: eureka-js-client registration body', () => {
  const instance = expectOk(
    parseInstance(EUREKA_JS_CLIENT_REGISTRATION_JSON, 'application/json', 'jqservice', { now: NOW }),
  );

  it('accepts the lower-case path app and upper-cases the app name', () => {
    expect(instance.app).toBe('JQSERVICE');
  });

  it('falls back to the host name for the instance id, which the client heartbeats to', () => {
    expect(instance.instanceId).toBe('localhost');
  });

  it('reads a boolean @enabled and applies Eureka defaults for what the client leaves out', () => {
    expect(instance.port).toEqual({ value: 8080, enabled: true });
    expect(instance.securePort).toEqual({ value: 7002, enabled: false });
    expect(instance.leaseInfo).toEqual({
      renewalIntervalInSecs: 30,
      durationInSecs: 90,
      registrationTimestamp: 0,
      lastRenewalTimestamp: 0,
      evictionTimestamp: 0,
      serviceUpTimestamp: 0,
    });
    expect(instance.overriddenStatus).toBe('UNKNOWN');
    expect(instance.countryId).toBe(1);
    expect(instance.metadata).toEqual({});
  });

  it('stamps the missing timestamps with the injected clock', () => {
    expect(instance.lastDirtyTimestamp).toBe(NOW);
    expect(instance.lastUpdatedTimestamp).toBe(NOW);
  });
});

describe('parseInstance: input tolerance', () => {
  it.each([
    [
      { $: 8080, '@enabled': 'true' },
      { value: 8080, enabled: true },
    ],
    [
      { $: '8080', '@enabled': 'false' },
      { value: 8080, enabled: false },
    ],
    [
      { $: 8080, '@enabled': false },
      { value: 8080, enabled: false },
    ],
    [
      { $: 8080, '@enabled': 1 },
      { value: 8080, enabled: true },
    ],
    [{ $: 8080 }, { value: 8080, enabled: true }],
    [8081, { value: 8081, enabled: true }],
    [null, { value: 7001, enabled: true }],
  ])('reads port %j as %j', (port, expected) => {
    expect(parseWith({ port }).port).toEqual(expected);
  });

  it('defaults the secure port to disabled unless @enabled says true', () => {
    expect(parseWith({ securePort: { $: 8443 } }).securePort).toEqual({ value: 8443, enabled: false });
    expect(parseWith({ securePort: { $: 8443, '@enabled': 'true' } }).securePort).toEqual({
      value: 8443,
      enabled: true,
    });
  });

  it('accepts both overriddenStatus spellings', () => {
    expect(parseWith({ overriddenStatus: 'OUT_OF_SERVICE' }).overriddenStatus).toBe('OUT_OF_SERVICE');
    expect(parseWith({ overriddenstatus: 'DOWN' }).overriddenStatus).toBe('DOWN');
  });

  it('reads the legacy leaseInfo renewalTimestamp when lastRenewalTimestamp is absent', () => {
    const lease = parseWith({ leaseInfo: { renewalTimestamp: 123, durationInSecs: 30 } }).leaseInfo;
    expect(lease.lastRenewalTimestamp).toBe(123);
    expect(lease.durationInSecs).toBe(30);
    expect(
      parseWith({ leaseInfo: { renewalTimestamp: 1, lastRenewalTimestamp: 2 } }).leaseInfo.lastRenewalTimestamp,
    ).toBe(2);
  });

  it('replaces non-positive lease intervals with the defaults, as LeaseInfo.Builder does', () => {
    const lease = parseWith({ leaseInfo: { renewalIntervalInSecs: 0, durationInSecs: -5 } }).leaseInfo;
    expect(lease).toMatchObject({ renewalIntervalInSecs: 30, durationInSecs: 90 });
  });

  it('treats the EmptyMap marker as empty metadata and drops @class from non-empty metadata', () => {
    expect(parseWith({ metadata: { '@class': 'java.util.Collections$EmptyMap' } }).metadata).toEqual({});
    expect(parseWith({ metadata: { '@class': 'java.util.Collections$EmptyMap', zone: 'a' } }).metadata).toEqual({
      zone: 'a',
    });
  });

  it('stringifies scalar metadata values and skips nulls and nested values', () => {
    expect(parseWith({ metadata: { a: 1, b: true, c: null, d: { e: 'f' }, g: 'h' } }).metadata).toEqual({
      a: '1',
      b: 'true',
      g: 'h',
    });
  });

  it('keeps a __proto__ metadata key as an ordinary entry without touching prototypes', () => {
    const raw = body().replace('"app":"SVC"', '"app":"SVC","metadata":{"__proto__":{"polluted":"yes"},"k":"v"}');
    const instance = expectOk(parseInstance(raw, 'application/json', 'SVC', { now: NOW }));
    expect(instance.metadata).toEqual({ k: 'v' });
    const withString = body().replace('"app":"SVC"', '"app":"SVC","metadata":{"__proto__":"x"}');
    const metadata = expectOk(parseInstance(withString, 'application/json', 'SVC', { now: NOW })).metadata;
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(Object.keys(metadata)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('treats nulls like absent fields, as Spring sends them', () => {
    const instance = parseWith({
      appGroupName: null,
      sid: null,
      status: null,
      overriddenStatus: null,
      countryId: null,
      leaseInfo: null,
      metadata: null,
      homePageUrl: null,
      isCoordinatingDiscoveryServer: null,
      lastDirtyTimestamp: null,
      actionType: null,
      asgName: null,
    });
    expect(instance).toMatchObject({
      appGroupName: null,
      sid: 'na',
      status: 'UP',
      overriddenStatus: 'UNKNOWN',
      countryId: 1,
      metadata: {},
      homePageUrl: null,
      isCoordinatingDiscoveryServer: false,
      lastDirtyTimestamp: NOW,
      actionType: null,
      asgName: null,
    });
  });

  it('reads server-format strings back into numbers and booleans', () => {
    const instance = parseWith({
      isCoordinatingDiscoveryServer: 'true',
      lastUpdatedTimestamp: '1606972241104',
      lastDirtyTimestamp: '1606972240190',
      countryId: '2',
      actionType: 'MODIFIED',
    });
    expect(instance).toMatchObject({
      isCoordinatingDiscoveryServer: true,
      lastUpdatedTimestamp: 1606972241104,
      lastDirtyTimestamp: 1606972240190,
      countryId: 2,
      actionType: 'MODIFIED',
    });
  });

  it('reads statuses case-insensitively', () => {
    expect(parseWith({ status: 'out_of_service' }).status).toBe('OUT_OF_SERVICE');
  });

  it('reads an empty status as UNKNOWN, as both Eureka codecs do', () => {
    expect(parseWith({ status: '' }).status).toBe('UNKNOWN');
    expect(parseWith({ overriddenStatus: ' ' }).overriddenStatus).toBe('UNKNOWN');
  });

  it('ignores an unknown actionType like Eureka does (null)', () => {
    expect(parseWith({ actionType: 'RENAMED' }).actionType).toBeNull();
  });

  it('upper-cases appGroupName like the Jackson codec', () => {
    expect(parseWith({ appGroupName: 'group-a' }).appGroupName).toBe('GROUP-A');
  });

  it('takes Spring metadata.instanceId when instanceId is missing, prefixed with the host name', () => {
    expect(parseWith({ instanceId: null, metadata: { instanceId: 'svc:1' } }).instanceId).toBe('host-1:svc:1');
    expect(parseWith({ instanceId: null, metadata: { instanceId: 'host-1:svc:1' } }).instanceId).toBe('host-1:svc:1');
  });

  it("takes AmazonInfo's instance-id when instanceId is missing", () => {
    const instance = parseWith({
      instanceId: undefined,
      dataCenterInfo: {
        '@class': 'com.netflix.appinfo.AmazonInfo',
        name: 'Amazon',
        metadata: { 'instance-id': 'i-0abc', 'availability-zone': 'eu-west-1a' },
      },
    });
    expect(instance.instanceId).toBe('i-0abc');
    expect(instance.dataCenterInfo).toEqual({
      className: 'com.netflix.appinfo.AmazonInfo',
      name: 'Amazon',
      metadata: { 'instance-id': 'i-0abc', 'availability-zone': 'eu-west-1a' },
    });
  });

  it('accepts a dataCenterInfo without @class and canonicalizes the name and class', () => {
    const dataCenter = parseWith({ dataCenterInfo: { name: 'myown' } }).dataCenterInfo;
    expect(dataCenter).toEqual({ className: 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo', name: 'MyOwn' });
    const netflix = parseWith({
      dataCenterInfo: { '@class': 'com.netflix.appinfo.MyDataCenterInfo', name: 'Netflix' },
    });
    expect(netflix.dataCenterInfo.className).toBe('com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo');
  });

  it('accepts a body without the {"instance": …} wrapper', () => {
    const bare = JSON.stringify((JSON.parse(body()) as { instance: unknown }).instance);
    expect(expectOk(parseInstance(bare, 'application/json', 'SVC', { now: NOW })).hostName).toBe('host-1');
  });

  it('sniffs the format when the content type is missing or generic', () => {
    expect(parseInstance(body(), undefined, 'SVC').ok).toBe(true);
    expect(parseInstance(body(), 'text/plain', 'SVC').ok).toBe(true);
  });

  it('tolerates a byte-order mark', () => {
    expect(parseInstance('\uFEFF' + body(), 'application/json', 'SVC').ok).toBe(true);
  });
});
