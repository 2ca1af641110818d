import { describe, expect, it } from 'vitest';
import { parseApplications, parseInstance, renderApplications, renderInstance } from '../../src/eureka/index.ts';
import type { Application, InstanceInfo, WireResult } from '../../src/eureka/index.ts';
import { decodeXmlName, encodeXmlName, escapeXml, parseXmlDocument } from '../../src/eureka/xml-codec.ts';
import { SERVER_APPS_JSON, SERVER_APPS_XML, SPRING_REGISTRATION_JSON, SPRING_REGISTRATION_XML } from './fixtures.ts';

const NOW = 1_700_000_000_000;

function value<T>(result: WireResult<T>): T {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

describe('XML registration', () => {
  const fromXml = value(parseInstance(SPRING_REGISTRATION_XML, 'application/xml', 'WEBSERVICE', { now: NOW }));

  it('reads XStream-format XML into the same instance as the JSON registration', () => {
    const fromJson = value(parseInstance(SPRING_REGISTRATION_JSON, 'application/json', 'WEBSERVICE', { now: NOW }));
    expect(fromXml).toEqual(fromJson);
  });

  it('round-trips: our XML of the instance parses back to the same instance', () => {
    const xml = renderInstance(fromXml, { format: 'xml' });
    expect(xml).toBe(SPRING_REGISTRATION_XML);
    expect(value(parseInstance(xml, 'application/xml', 'WEBSERVICE', { now: NOW }))).toEqual(fromXml);
  });

  it('sniffs XML when no content type is given', () => {
    expect(value(parseInstance(SPRING_REGISTRATION_XML, undefined, 'WEBSERVICE')).app).toBe('WEBSERVICE');
  });

  it('applies XStream’s port defaults: unsecure enabled unless "false", secure disabled unless "true"', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<instance>
  <hostName>myhost</hostName>
  <app>myapp</app>
  <ipAddr>10.0.0.5</ipAddr>
  <vipAddress>myapp</vipAddress>
  <status>up</status>
  <port>8080</port>
  <securePort>8443</securePort>
  <dataCenterInfo><name>MyOwn</name></dataCenterInfo>
  <leaseInfo><durationInSecs>15</durationInSecs><bogus>x</bogus></leaseInfo>
</instance>`;
    const instance = value(parseInstance(xml, 'application/xml', 'MYAPP', { now: NOW }));
    expect(instance).toMatchObject({
      instanceId: 'myhost',
      app: 'MYAPP',
      status: 'UP',
      port: { value: 8080, enabled: true },
      securePort: { value: 8443, enabled: false },
      leaseInfo: { durationInSecs: 15, renewalIntervalInSecs: 30 },
      vipAddress: 'myapp',
      lastDirtyTimestamp: NOW,
    });
    const flipped = xml
      .replace('<port>', '<port enabled="false">')
      .replace('<securePort>', '<securePort enabled="true">');
    expect(value(parseInstance(flipped, 'application/xml', 'MYAPP'))).toMatchObject({
      port: { enabled: false },
      securePort: { enabled: true },
    });
  });

  it('reads the camel-case overriddenStatus spelling and the EmptyMap metadata element', () => {
    const xml = SPRING_REGISTRATION_XML.replace(
      '<overriddenstatus>UNKNOWN</overriddenstatus>',
      '<overriddenStatus>OUT_OF_SERVICE</overriddenStatus>',
    ).replace(/<metadata>[\s\S]*<\/metadata>/, '<metadata class="java.util.Collections$EmptyMap"/>');
    expect(value(parseInstance(xml, 'application/xml', 'WEBSERVICE'))).toMatchObject({
      overriddenStatus: 'OUT_OF_SERVICE',
      metadata: {},
    });
  });

  it('decodes entities and XStream-coded metadata names', () => {
    const xml = SPRING_REGISTRATION_XML.replace(
      '<management.port>8082</management.port>',
      '<a__b>x &amp; y &lt;z&gt;</a__b><cost_-usd>1</cost_-usd><my_.0020key>v&#x41;</my_.0020key>',
    );
    expect(value(parseInstance(xml, 'application/xml', 'WEBSERVICE')).metadata).toEqual({
      a_b: 'x & y <z>',
      cost$usd: '1',
      'my key': 'vA',
    });
  });
});

describe('XML names and escaping (XStream XmlFriendlyNameCoder / PrettyPrintWriter)', () => {
  it.each([
    ['management.port', 'management.port'],
    ['local_ipv4', 'local__ipv4'],
    ['price$', 'price_-'],
    ['my key', 'my_.0020key'],
    ['1st', '_.0031st'],
    ['zone:a', 'zone:a'],
    ['__', '____'],
  ])('encodes %j as <%s> and decodes it back', (name, encoded) => {
    expect(encodeXmlName(name)).toBe(encoded);
    expect(decodeXmlName(encoded)).toBe(name);
  });

  it('escapes text like PrettyPrintWriter, keeping tab and newline literal in text only', () => {
    expect(escapeXml(`a&b<c>d"e'f\rg\th\ni\u0085k`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f&#xd;g\th\ni&#x85;k');
    expect(escapeXml('\t\n', true)).toBe('&#x9;&#xa;');
    expect(escapeXml('plain text ü')).toBe('plain text ü');
  });

  it('writes U+FFFD for what XML 1.0 cannot carry (XStream writes &#x0;, which Xerces refuses with the whole document)', () => {
    const text = escapeXml('a\u0000b\u0001c\u001fd\ud800e\udc00f\ufffeg\uffffh😀i', false);
    expect(text).toBe('a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg\ufffdh😀i');
    expect(escapeXml('\u0000', true)).toBe('\ufffd');
    // What a Java XML client reads: the document parses (fast-xml-parser's validator is as strict as Xerces here).
    expect(parseXmlDocument(`<a>${text}</a>`).ok).toBe(true);
  });

  it('always escapes an ampersand, even before something that looks like an entity', () => {
    expect(escapeXml('&amp;')).toBe('&amp;amp;');
  });

  it('keeps hostile metadata well-formed and lossless through a render/parse round trip', () => {
    const base = value(parseInstance(SPRING_REGISTRATION_JSON, 'application/json', 'WEBSERVICE', { now: NOW }));
    const metadata = { 'a b': '<x>', 'q"': `'&amp;'`, $_$: '&#xd;]]>', ключ: 'значение' };
    const instance: InstanceInfo = { ...base, metadata, homePageUrl: 'http://h/?a=1&b=2' };
    const xml = renderInstance(instance, { format: 'xml' });
    expect(value(parseInstance(xml, 'application/xml', 'WEBSERVICE', { now: NOW }))).toEqual(instance);
  });
});

describe('JSON and XML of the same data agree', () => {
  const spring = value(parseInstance(SPRING_REGISTRATION_JSON, 'application/json', 'WEBSERVICE', { now: NOW }));
  const registry: Application[] = [
    {
      name: 'WEBSERVICE',
      instances: [
        spring,
        {
          ...spring,
          instanceId: 'host-2:webservice:8082',
          status: 'DOWN',
          overriddenStatus: 'OUT_OF_SERVICE',
          sid: 'sid-7',
          appGroupName: 'GROUP',
          metadata: {},
          actionType: 'MODIFIED',
          asgName: 'asg',
          isCoordinatingDiscoveryServer: true,
          securePort: { value: 8443, enabled: true },
        },
      ],
    },
    {
      name: 'BILLING',
      instances: [
        {
          ...spring,
          app: 'BILLING',
          instanceId: 'i-9',
          dataCenterInfo: {
            className: 'com.netflix.appinfo.AmazonInfo',
            name: 'Amazon',
            metadata: { 'instance-id': 'i-9', public_hostname: 'ec2.example' },
          },
          homePageUrl: null,
          statusPageUrl: null,
          metadata: { zone_name: 'eu-1a', 'a&b': 'c<d' },
        },
      ],
    },
  ];
  const options = { versionsDelta: 3, appsHashCode: 'DOWN_1_UP_2_' };

  it('parses both renderings into the same applications document', () => {
    const fromJson = value(
      parseApplications(renderApplications(registry, { ...options, format: 'json' }), 'application/json'),
    );
    const fromXml = value(
      parseApplications(renderApplications(registry, { ...options, format: 'xml' }), 'application/xml'),
    );
    expect(fromXml).toEqual(fromJson);
    expect(fromJson).toEqual({ versionsDelta: 3, appsHashCode: 'DOWN_1_UP_2_', applications: registry, skipped: [] });
  });

  it('agrees on the recorded server sample', () => {
    expect(value(parseApplications(SERVER_APPS_XML, 'application/xml'))).toEqual(
      value(parseApplications(SERVER_APPS_JSON, 'application/json')),
    );
  });

  it('skips and reports instances that would fail registration instead of failing the document', () => {
    const broken = SERVER_APPS_JSON.replace('"ipAddr":"10.8.30.55",', '');
    expect(value(parseApplications(broken, 'application/json'))).toMatchObject({
      applications: [],
      skipped: [{ code: 'missing_field', field: 'ipAddr' }],
    });
  });
});
