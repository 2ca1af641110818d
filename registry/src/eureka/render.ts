// Server output, byte-for-byte what Spring Cloud's Eureka server sends:
// - JSON follows EurekaJacksonCodec's InstanceInfoSerializer/ApplicationSerializer/ApplicationsSerializer
//   (as wrapped by Spring's CloudJacksonJson): fixed field order, `sid` left out when "na"/"unknown", port
//   `$` a number but `@enabled` a string, the @Auto fields (URLs, vip addresses, isCoordinatingDiscoveryServer,
//   timestamps, actionType, asgName) written as strings after metadata and only when not null.
// - XML follows XmlXStream (Converters.java) through PrettyPrintWriter: two-space indent, "\n" line ends,
//   no declaration, `<port enabled="…">`, `<overriddenstatus>`, `<x/>` for empty elements.
import type { Application, DataCenterInfo, InstanceInfo } from './instance.ts';
import { encodeXmlName, escapeXml } from './xml-codec.ts';

export type WireFormat = 'json' | 'xml';

export interface RenderOptions {
  readonly format: WireFormat;
}

export interface RenderApplicationsOptions extends RenderOptions {
  /** `versions__delta`: 1 for full fetches in Eureka, a counter for deltas. */
  readonly versionsDelta: number;
  /** `apps__hashcode`, see appsHashCode(); for a delta it is the hash of the whole registry. */
  readonly appsHashCode: string;
}

/**
 * Eureka's content negotiation: JSON only when the Accept header mentions json, XML otherwise (also when absent).
 * @example formatForAccept(request.header('accept')) // 'xml' for eureka-js-client heartbeats
 */
export function formatForAccept(accept: string | null | undefined): WireFormat {
  return accept?.toLowerCase().includes('json') === true ? 'json' : 'xml';
}

/**
 * The `applications` document of GET /apps, /apps/delta, /vips/… . Applications without instances are left
 * out, as Eureka never lists them.
 * @example renderApplications(groupApplications(all), { format: 'json', versionsDelta: 1, appsHashCode: appsHashCode(all) })
 */
export function renderApplications(applications: Iterable<Application>, options: RenderApplicationsOptions): string {
  const listed: Application[] = [];
  for (const application of applications) {
    if (application.instances.length > 0) listed.push(application);
  }
  const versionsDelta = String(options.versionsDelta);
  if (options.format === 'json') {
    return JSON.stringify({
      applications: {
        versions__delta: versionsDelta,
        apps__hashcode: options.appsHashCode,
        application: listed.map(applicationJson),
      },
    });
  }
  let xml = '<applications>\n  <versions__delta>' + escapeXml(versionsDelta) + '</versions__delta>';
  xml += '\n  <apps__hashcode>' + escapeXml(options.appsHashCode) + '</apps__hashcode>';
  for (const application of listed) xml += '\n  ' + applicationXml(application, 1);
  return xml + '\n</applications>';
}

/** The `application` document of GET /apps/{APP}. */
export function renderApplication(application: Application, options: RenderOptions): string {
  return options.format === 'json'
    ? JSON.stringify({ application: applicationJson(application) })
    : applicationXml(application, 0);
}

/** The `instance` document of GET /apps/{APP}/{ID} and /instances/{ID}. */
export function renderInstance(instance: InstanceInfo, options: RenderOptions): string {
  return options.format === 'json' ? JSON.stringify({ instance: instanceJson(instance) }) : instanceXml(instance, 0);
}

// ---- JSON ----

const EMPTY_METADATA_CLASS = 'java.util.Collections$EmptyMap';
// InstanceInfoSerializer writes this marker for an empty map "for backwards compatibility".
const EMPTY_METADATA_JSON = { '@class': EMPTY_METADATA_CLASS } as const;

function applicationJson(application: Application): object {
  return { name: application.name, instance: application.instances.map(instanceJson) };
}

function isEmpty(map: Readonly<Record<string, string>>): boolean {
  for (const key in map) if (Object.hasOwn(map, key)) return false;
  return true;
}

function hiddenSid(sid: string): boolean {
  return sid === 'na' || sid === 'unknown';
}

function dataCenterJson(dataCenter: DataCenterInfo): object {
  return {
    '@class': dataCenter.className,
    name: dataCenter.name,
    // Only AmazonInfo carries (and Eureka writes) data-center metadata.
    metadata: dataCenter.name === 'Amazon' ? (dataCenter.metadata ?? {}) : undefined,
  };
}

/**
 * The JSON object for one instance, without the `{"instance": …}` wrapper (replication bodies embed it bare).
 * Fields set to undefined are dropped by JSON.stringify while the literal keeps Eureka's order.
 */
export function instanceJson(instance: InstanceInfo): object {
  return {
    instanceId: instance.instanceId,
    hostName: instance.hostName,
    app: instance.app,
    ipAddr: instance.ipAddr,
    sid: hiddenSid(instance.sid) ? undefined : instance.sid,
    status: instance.status,
    overriddenStatus: instance.overriddenStatus,
    port: { $: instance.port.value, '@enabled': instance.port.enabled ? 'true' : 'false' },
    securePort: { $: instance.securePort.value, '@enabled': instance.securePort.enabled ? 'true' : 'false' },
    countryId: instance.countryId,
    dataCenterInfo: dataCenterJson(instance.dataCenterInfo),
    // Rebuilt so the order is Jackson's bean order whatever order the caller's object has.
    leaseInfo: {
      renewalIntervalInSecs: instance.leaseInfo.renewalIntervalInSecs,
      durationInSecs: instance.leaseInfo.durationInSecs,
      registrationTimestamp: instance.leaseInfo.registrationTimestamp,
      lastRenewalTimestamp: instance.leaseInfo.lastRenewalTimestamp,
      evictionTimestamp: instance.leaseInfo.evictionTimestamp,
      serviceUpTimestamp: instance.leaseInfo.serviceUpTimestamp,
    },
    metadata: isEmpty(instance.metadata) ? EMPTY_METADATA_JSON : instance.metadata,
    appGroupName: instance.appGroupName ?? undefined,
    homePageUrl: instance.homePageUrl ?? undefined,
    statusPageUrl: instance.statusPageUrl ?? undefined,
    healthCheckUrl: instance.healthCheckUrl ?? undefined,
    secureHealthCheckUrl: instance.secureHealthCheckUrl ?? undefined,
    vipAddress: instance.vipAddress ?? undefined,
    secureVipAddress: instance.secureVipAddress ?? undefined,
    isCoordinatingDiscoveryServer: instance.isCoordinatingDiscoveryServer ? 'true' : 'false',
    lastUpdatedTimestamp: String(instance.lastUpdatedTimestamp),
    lastDirtyTimestamp: String(instance.lastDirtyTimestamp),
    actionType: instance.actionType ?? undefined,
    asgName: instance.asgName ?? undefined,
  };
}

// ---- XML ----

const NEWLINES: readonly string[] = Array.from({ length: 8 }, (_, depth) => '\n' + '  '.repeat(depth));
/** "\n" plus the indent of the given depth, as PrettyPrintWriter.endOfLine writes it. */
function newline(depth: number): string {
  return NEWLINES[depth] ?? '\n' + '  '.repeat(depth);
}

function element(name: string, value: string): string {
  return '<' + name + '>' + escapeXml(value) + '</' + name + '>';
}

function optionalElement(indent: string, name: string, value: string | null): string {
  return value === null ? '' : indent + element(name, value);
}

function mapXml(map: Readonly<Record<string, string>>, depth: number): string {
  if (isEmpty(map)) return '<metadata class="' + EMPTY_METADATA_CLASS + '"/>';
  const indent = newline(depth + 1);
  let xml = '<metadata>';
  for (const key of Object.keys(map)) {
    // An empty key has no element name at all; Eureka could not have stored it either.
    if (key === '') continue;
    const name = encodeXmlName(key);
    xml += indent + '<' + name + '>' + escapeXml(map[key] ?? '') + '</' + name + '>';
  }
  return xml + newline(depth) + '</metadata>';
}

/** An `<application>` whose start tag sits at `depth`; the caller writes the indent before it. */
function applicationXml(application: Application, depth: number): string {
  const indent = newline(depth + 1);
  let xml = '<application>' + indent + element('name', application.name);
  for (const instance of application.instances) xml += indent + instanceXml(instance, depth + 1);
  return xml + newline(depth) + '</application>';
}

/** An `<instance>` whose start tag sits at `depth`; the caller writes the indent before it. */
function instanceXml(instance: InstanceInfo, depth: number): string {
  const n1 = newline(depth + 1);
  const n2 = newline(depth + 2);
  const { port, securePort, dataCenterInfo, leaseInfo } = instance;
  let xml = '<instance>';
  xml += n1 + element('instanceId', instance.instanceId);
  xml += n1 + element('hostName', instance.hostName);
  xml += n1 + element('app', instance.app);
  xml += n1 + element('ipAddr', instance.ipAddr);
  if (!hiddenSid(instance.sid)) xml += n1 + element('sid', instance.sid);
  xml += n1 + '<status>' + instance.status + '</status>';
  xml += n1 + '<overriddenstatus>' + instance.overriddenStatus + '</overriddenstatus>';
  xml += n1 + '<port enabled="' + String(port.enabled) + '">' + String(port.value) + '</port>';
  xml += n1 + '<securePort enabled="' + String(securePort.enabled) + '">' + String(securePort.value) + '</securePort>';
  xml += n1 + '<countryId>' + String(instance.countryId) + '</countryId>';
  xml += n1 + '<dataCenterInfo class="' + escapeXml(dataCenterInfo.className, true) + '">';
  xml += n2 + '<name>' + dataCenterInfo.name + '</name>';
  if (dataCenterInfo.name === 'Amazon') xml += n2 + mapXml(dataCenterInfo.metadata ?? {}, depth + 2);
  xml += n1 + '</dataCenterInfo>';
  xml += n1 + '<leaseInfo>';
  xml += n2 + '<renewalIntervalInSecs>' + String(leaseInfo.renewalIntervalInSecs) + '</renewalIntervalInSecs>';
  xml += n2 + '<durationInSecs>' + String(leaseInfo.durationInSecs) + '</durationInSecs>';
  xml += n2 + '<registrationTimestamp>' + String(leaseInfo.registrationTimestamp) + '</registrationTimestamp>';
  xml += n2 + '<lastRenewalTimestamp>' + String(leaseInfo.lastRenewalTimestamp) + '</lastRenewalTimestamp>';
  xml += n2 + '<evictionTimestamp>' + String(leaseInfo.evictionTimestamp) + '</evictionTimestamp>';
  xml += n2 + '<serviceUpTimestamp>' + String(leaseInfo.serviceUpTimestamp) + '</serviceUpTimestamp>';
  xml += n1 + '</leaseInfo>';
  xml += n1 + mapXml(instance.metadata, depth + 1);
  xml += optionalElement(n1, 'appGroupName', instance.appGroupName);
  xml += optionalElement(n1, 'homePageUrl', instance.homePageUrl);
  xml += optionalElement(n1, 'statusPageUrl', instance.statusPageUrl);
  xml += optionalElement(n1, 'healthCheckUrl', instance.healthCheckUrl);
  xml += optionalElement(n1, 'secureHealthCheckUrl', instance.secureHealthCheckUrl);
  xml += optionalElement(n1, 'vipAddress', instance.vipAddress);
  xml += optionalElement(n1, 'secureVipAddress', instance.secureVipAddress);
  xml += n1 + '<isCoordinatingDiscoveryServer>' + String(instance.isCoordinatingDiscoveryServer);
  xml += '</isCoordinatingDiscoveryServer>';
  xml += n1 + '<lastUpdatedTimestamp>' + String(instance.lastUpdatedTimestamp) + '</lastUpdatedTimestamp>';
  xml += n1 + '<lastDirtyTimestamp>' + String(instance.lastDirtyTimestamp) + '</lastDirtyTimestamp>';
  xml += optionalElement(n1, 'actionType', instance.actionType);
  xml += optionalElement(n1, 'asgName', instance.asgName);
  return xml + newline(depth) + '</instance>';
}
