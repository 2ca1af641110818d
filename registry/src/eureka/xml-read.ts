// <instance> element → RawInstance with the rules of Eureka's XStream converters (Converters.java:
// InstanceInfoConverter, DataCenterInfoConverter, LeaseInfoConverter, MetadataConverter).
import { isLeaseField, isStringField } from './instance-fields.ts';
import { parseIntegerText, setEntry } from './json-read.ts';
import type { RawDataCenter, RawInstance, RawLease } from './normalize.ts';
import type { XmlElement } from './xml-codec.ts';

export function readXmlInstance(element: XmlElement): RawInstance {
  const raw: RawInstance = {};
  for (const child of element.children) {
    const name = child.name;
    if (isStringField(name)) {
      raw[name] = child.text;
      continue;
    }
    switch (name) {
      case 'status':
        raw.status = child.text.trim();
        break;
      // Eureka writes `overriddenstatus` in XML and accepts both spellings.
      case 'overriddenstatus':
      case 'overriddenStatus':
        raw.overriddenStatus = child.text.trim();
        break;
      case 'port': {
        // Unsecure port: enabled unless the attribute says "false".
        const value = parseIntegerText(child.text);
        raw.port = { enabled: child.attributes['enabled'] !== 'false', ...(value === undefined ? {} : { value }) };
        break;
      }
      case 'securePort': {
        // Secure port: disabled unless the attribute says "true".
        const value = parseIntegerText(child.text);
        raw.securePort = { enabled: child.attributes['enabled'] === 'true', ...(value === undefined ? {} : { value }) };
        break;
      }
      case 'countryId':
        setNumber(raw, 'countryId', child.text);
        break;
      case 'dataCenterInfo':
        raw.dataCenterInfo = readDataCenter(child);
        break;
      case 'leaseInfo':
        raw.leaseInfo = readLease(child);
        break;
      case 'metadata':
        raw.metadata = readXmlMap(child);
        break;
      case 'isCoordinatingDiscoveryServer':
        // Boolean.valueOf: "true" in any case, anything else is false.
        raw.isCoordinatingDiscoveryServer = child.text.trim().toLowerCase() === 'true';
        break;
      case 'lastUpdatedTimestamp':
      case 'lastDirtyTimestamp':
        setNumber(raw, name, child.text);
        break;
      case 'actionType':
        raw.actionType = child.text.trim();
        break;
      default:
        // Unknown elements are skipped, like XStream's @Auto lookup does.
        break;
    }
  }
  return raw;
}

/** Children as a string map; names are already XStream-decoded. `class="…EmptyMap"` is an attribute, so ignored. */
export function readXmlMap(element: XmlElement): Record<string, string> {
  const map: Record<string, string> = {};
  for (const child of element.children) {
    if (child.name !== '') setEntry(map, child.name, child.text);
  }
  return map;
}

function readDataCenter(element: XmlElement): RawDataCenter {
  const dataCenter: RawDataCenter = {};
  const className = element.attributes['class'];
  if (className !== undefined) dataCenter.className = className;
  for (const child of element.children) {
    if (child.name === 'name') dataCenter.name = child.text.trim();
    else if (child.name === 'metadata') dataCenter.metadata = readXmlMap(child);
  }
  return dataCenter;
}

function readLease(element: XmlElement): RawLease {
  const lease: RawLease = {};
  for (const child of element.children) {
    // LeaseInfoConverter skips values that are not numbers.
    const value = parseIntegerText(child.text);
    if (isLeaseField(child.name) && value !== undefined) lease[child.name] = value;
  }
  return lease;
}

function setNumber(raw: RawInstance, key: 'countryId' | 'lastUpdatedTimestamp' | 'lastDirtyTimestamp', text: string) {
  const value = parseIntegerText(text);
  if (value !== undefined) raw[key] = value;
}
