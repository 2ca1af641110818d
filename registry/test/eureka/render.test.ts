import { describe, expect, it } from 'vitest';
import {
  appsHashCode,
  formatForAccept,
  groupApplications,
  parseApplications,
  parseInstance,
  renderApplication,
  renderApplications,
  renderInstance,
} from '../../src/eureka/index.ts';
import type { Application, ApplicationsDocument, InstanceInfo, WireResult } from '../../src/eureka/index.ts';
import { SERVER_APPS_JSON, SERVER_APPS_XML, SPRING_REGISTRATION_JSON } from './fixtures.ts';

function value<T>(result: WireResult<T>): T {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

const spring = value(parseInstance(SPRING_REGISTRATION_JSON, 'application/json', 'WEBSERVICE'));

function variant(overrides: Partial<InstanceInfo>): InstanceInfo {
  return { ...spring, ...overrides };
}

describe('renderApplications: the recorded server sample', () => {
  const document: ApplicationsDocument = value(parseApplications(SERVER_APPS_JSON, 'application/json'));

  it('parses the sample into one app with one instance and keeps the header fields', () => {
    expect(document.versionsDelta).toBe(1);
    expect(document.appsHashCode).toBe('UP_1_');
    expect(document.skipped).toEqual([]);
    expect(document.applications.map((app) => [app.name, app.instances.length])).toEqual([['EUREKACONSUMER', 1]]);
    expect(document.applications[0]?.instances[0]).toMatchObject({
      instanceId: 'host:eurekaconsumer:9002',
      lastDirtyTimestamp: 1606972240190,
      leaseInfo: { lastRenewalTimestamp: 1606977221655 },
      actionType: 'ADDED',
    });
  });

  it('re-renders the JSON byte for byte', () => {
    const json = renderApplications(document.applications, { format: 'json', versionsDelta: 1, appsHashCode: 'UP_1_' });
    expect(json).toBe(SERVER_APPS_JSON);
  });

  it('re-renders to a deep-equal parsed shape, with Eureka’s string and number types', () => {
    const ours = JSON.parse(
      renderApplications(document.applications, { format: 'json', versionsDelta: 1, appsHashCode: 'UP_1_' }),
    ) as unknown;
    expect(ours).toEqual(JSON.parse(SERVER_APPS_JSON));
    const apps = (ours as { applications: Record<string, unknown> }).applications;
    expect(typeof apps['versions__delta']).toBe('string');
    expect(typeof apps['apps__hashcode']).toBe('string');
  });

  it('renders the XStream XML of the same registry byte for byte', () => {
    const xml = renderApplications(document.applications, { format: 'xml', versionsDelta: 1, appsHashCode: 'UP_1_' });
    expect(xml).toBe(SERVER_APPS_XML);
  });
});

describe('renderApplications: shape rules', () => {
  const up = variant({ instanceId: 'a:1' });
  const down = variant({ instanceId: 'a:2', status: 'DOWN' });
  const other = variant({ instanceId: 'b:1', app: 'BILLING' });
  const registry: Application[] = [
    { name: 'WEBSERVICE', instances: [up, down] },
    { name: 'EMPTY', instances: [] },
    { name: 'BILLING', instances: [other] },
  ];

  it('always writes application and instance as arrays, even with one of each', () => {
    const one = JSON.parse(
      renderApplications([{ name: 'BILLING', instances: [other] }], {
        format: 'json',
        versionsDelta: 1,
        appsHashCode: '',
      }),
    ) as { applications: { application: { instance: unknown }[] } };
    expect(Array.isArray(one.applications.application)).toBe(true);
    expect(Array.isArray(one.applications.application[0]?.instance)).toBe(true);
  });

  it('leaves out applications without instances in JSON and XML', () => {
    const options = { versionsDelta: 7, appsHashCode: appsHashCode([up, down, other]) };
    const json = JSON.parse(renderApplications(registry, { ...options, format: 'json' })) as {
      applications: { versions__delta: string; apps__hashcode: string; application: { name: string }[] };
    };
    expect(json.applications.application.map((app) => app.name)).toEqual(['WEBSERVICE', 'BILLING']);
    expect(json.applications.versions__delta).toBe('7');
    expect(json.applications.apps__hashcode).toBe('DOWN_1_UP_2_');
    const xml = renderApplications(registry, { ...options, format: 'xml' });
    expect(xml).not.toContain('EMPTY');
    expect(xml.match(/<application>/g)).toHaveLength(2);
  });

  it('renders the empty registry exactly as Eureka does', () => {
    expect(renderApplications([], { format: 'json', versionsDelta: 1, appsHashCode: '' })).toBe(
      '{"applications":{"versions__delta":"1","apps__hashcode":"","application":[]}}',
    );
    expect(renderApplications([], { format: 'xml', versionsDelta: 1, appsHashCode: '' })).toBe(
      '<applications>\n  <versions__delta>1</versions__delta>\n  <apps__hashcode></apps__hashcode>\n</applications>',
    );
  });

  it('accepts the output of groupApplications', () => {
    const apps = groupApplications([up, other, down]);
    expect(apps.map((app) => [app.name, app.instances.map((instance) => instance.instanceId)])).toEqual([
      ['WEBSERVICE', ['a:1', 'a:2']],
      ['BILLING', ['b:1']],
    ]);
  });
});

describe('renderApplication and renderInstance', () => {
  it('wraps a single application as {"application":{name, instance:[…]}}', () => {
    const json = JSON.parse(renderApplication({ name: 'WEBSERVICE', instances: [spring] }, { format: 'json' })) as {
      application: { name: string; instance: { instanceId: string }[] };
    };
    expect(Object.keys(json)).toEqual(['application']);
    expect(json.application.name).toBe('WEBSERVICE');
    expect(json.application.instance.map((instance) => instance.instanceId)).toEqual([spring.instanceId]);
  });

  it('writes an application document in XML with the instance one level in', () => {
    const xml = renderApplication({ name: 'WEBSERVICE', instances: [spring] }, { format: 'xml' });
    expect(xml.startsWith('<application>\n  <name>WEBSERVICE</name>\n  <instance>\n    <instanceId>')).toBe(true);
    expect(xml.endsWith('\n  </instance>\n</application>')).toBe(true);
  });

  it('writes Eureka’s instance field order, with the @Auto fields after metadata', () => {
    const full = variant({
      sid: 'sid-1',
      appGroupName: 'GROUP',
      secureHealthCheckUrl: 'https://h/health',
      actionType: 'MODIFIED',
      asgName: 'asg-1',
    });
    const json = JSON.parse(renderInstance(full, { format: 'json' })) as { instance: Record<string, unknown> };
    expect(Object.keys(json.instance)).toEqual([
      'instanceId',
      'hostName',
      'app',
      'ipAddr',
      'sid',
      'status',
      'overriddenStatus',
      'port',
      'securePort',
      'countryId',
      'dataCenterInfo',
      'leaseInfo',
      'metadata',
      'appGroupName',
      'homePageUrl',
      'statusPageUrl',
      'healthCheckUrl',
      'secureHealthCheckUrl',
      'vipAddress',
      'secureVipAddress',
      'isCoordinatingDiscoveryServer',
      'lastUpdatedTimestamp',
      'lastDirtyTimestamp',
      'actionType',
      'asgName',
    ]);
    const xml = renderInstance(full, { format: 'xml' });
    const tags = [...xml.matchAll(/^ {2}<([A-Za-z]+)/gm)].map((match) => match[1]);
    expect(tags).toEqual(
      Object.keys(json.instance).map((key) => (key === 'overriddenStatus' ? 'overriddenstatus' : key)),
    );
  });

  it('leaves sid out when it is "na" or "unknown"', () => {
    expect(renderInstance(variant({ sid: 'unknown' }), { format: 'json' })).not.toContain('"sid"');
    expect(renderInstance(variant({ sid: 'na' }), { format: 'xml' })).not.toContain('<sid>');
  });

  it('writes empty metadata as the EmptyMap marker', () => {
    const empty = variant({ metadata: {} });
    expect(renderInstance(empty, { format: 'json' })).toContain(
      '"metadata":{"@class":"java.util.Collections$EmptyMap"}',
    );
    expect(renderInstance(empty, { format: 'xml' })).toContain(
      '\n  <metadata class="java.util.Collections$EmptyMap"/>\n',
    );
  });

  it('writes port values as numbers with string @enabled, and XML enabled attributes', () => {
    const instance = variant({ port: { value: 80, enabled: false }, securePort: { value: 443, enabled: true } });
    const json = JSON.parse(renderInstance(instance, { format: 'json' })) as { instance: Record<string, unknown> };
    expect(json.instance['port']).toEqual({ $: 80, '@enabled': 'false' });
    expect(json.instance['securePort']).toEqual({ $: 443, '@enabled': 'true' });
    const xml = renderInstance(instance, { format: 'xml' });
    expect(xml).toContain('<port enabled="false">80</port>');
    expect(xml).toContain('<securePort enabled="true">443</securePort>');
  });

  it('writes AmazonInfo with its class and metadata, and the default class otherwise', () => {
    const amazon = variant({
      dataCenterInfo: {
        className: 'com.netflix.appinfo.AmazonInfo',
        name: 'Amazon',
        metadata: { 'instance-id': 'i-1', local_ipv4: '10.0.0.9' },
      },
    });
    const json = JSON.parse(renderInstance(amazon, { format: 'json' })) as { instance: Record<string, unknown> };
    expect(json.instance['dataCenterInfo']).toEqual({
      '@class': 'com.netflix.appinfo.AmazonInfo',
      name: 'Amazon',
      metadata: { 'instance-id': 'i-1', local_ipv4: '10.0.0.9' },
    });
    expect(renderInstance(amazon, { format: 'xml' })).toContain(
      '  <dataCenterInfo class="com.netflix.appinfo.AmazonInfo">\n' +
        '    <name>Amazon</name>\n' +
        '    <metadata>\n' +
        '      <instance-id>i-1</instance-id>\n' +
        '      <local__ipv4>10.0.0.9</local__ipv4>\n' +
        '    </metadata>\n' +
        '  </dataCenterInfo>\n',
    );
    const plain = JSON.parse(renderInstance(spring, { format: 'json' })) as { instance: Record<string, unknown> };
    expect(plain.instance['dataCenterInfo']).toEqual({
      '@class': 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo',
      name: 'MyOwn',
    });
  });

  it('writes lease fields in Jackson bean order whatever order the model object has', () => {
    const reordered = variant({
      leaseInfo: {
        serviceUpTimestamp: 6,
        evictionTimestamp: 5,
        lastRenewalTimestamp: 4,
        registrationTimestamp: 3,
        durationInSecs: 2,
        renewalIntervalInSecs: 1,
      },
    });
    expect(renderInstance(reordered, { format: 'json' })).toContain(
      '"leaseInfo":{"renewalIntervalInSecs":1,"durationInSecs":2,"registrationTimestamp":3,"lastRenewalTimestamp":4,"evictionTimestamp":5,"serviceUpTimestamp":6}',
    );
  });
});

describe('formatForAccept', () => {
  it.each([
    ['application/json', 'json'],
    ['application/json, text/plain, */*', 'json'],
    ['Application/JSON', 'json'],
    ['application/xml', 'xml'],
    ['*/*', 'xml'],
    [undefined, 'xml'],
  ] as const)('answers %s with %s', (accept, format) => {
    expect(formatForAccept(accept)).toBe(format);
  });
});
