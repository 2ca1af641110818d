// Request bodies → model. JSON or XML is chosen from the Content-Type, else sniffed from the first character (the
// API itself refuses a body not declared JSON or XML with 415, as Eureka's Jersey does: see wireBodyGuard).
import { groupApplications } from './instance.ts';
import type { Application, InstanceInfo } from './instance.ts';
import { isJsonObject, jsonString, parseIntegerText, readJsonInstance } from './json-read.ts';
import { normalizeInstance } from './normalize.ts';
import type { RawInstance } from './normalize.ts';
import { fail, ok } from './result.ts';
import type { WireError, WireResult } from './result.ts';
import type { WireFormat } from './render.ts';
import { parseXmlDocument } from './xml-codec.ts';
import type { XmlElement } from './xml-codec.ts';
import { readXmlInstance } from './xml-read.ts';

export interface ParseOptions {
  /** Clock reading for timestamps a body leaves out (Eureka's InstanceInfo takes them from the clock). */
  readonly now?: number;
}

/** Picks the codec for a request body: the Content-Type when it names one, else the body's first character. */
export function bodyFormat(body: string, contentType: string | null | undefined): WireFormat {
  const type = contentType?.toLowerCase() ?? '';
  if (type.includes('json')) return 'json';
  if (type.includes('xml')) return 'xml';
  return body.trimStart().startsWith('<') ? 'xml' : 'json';
}

/** Parses JSON text into an unknown value, or a malformed_body error. */
export function parseJsonText(body: string): WireResult<unknown> {
  try {
    const value: unknown = JSON.parse(stripBom(body));
    return ok(value);
  } catch {
    return fail('malformed_body', 'Malformed JSON body');
  }
}

function stripBom(body: string): string {
  return body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
}

const INSTANCE_HINTS = ['app', 'hostName', 'ipAddr', 'instanceId'];

/**
 * Parses and validates a registration body (`POST /apps/{APP}`): `{"instance":{…}}` or `<instance>…</instance>`,
 * as sent by Spring/Netflix clients, eureka-js-client or curl. Errors carry Eureka's 400 text.
 * @example
 * const result = parseInstance(body, headers['content-type'], 'webservice', { now: clock.now() });
 * if (!result.ok) return c.text(result.error.message, 400);
 */
export function parseInstance(
  body: string,
  contentType: string | null | undefined,
  pathApp?: string,
  options: ParseOptions = {},
): WireResult<InstanceInfo> {
  const now = options.now ?? Date.now();
  const text = stripBom(body);
  const raw = readInstanceBody(text, bodyFormat(text, contentType));
  if (!raw.ok) return raw;
  return normalizeInstance(raw.value, { pathApp, now });
}

function readInstanceBody(body: string, format: WireFormat): WireResult<RawInstance> {
  if (format === 'xml') {
    const document = parseXmlDocument(body);
    if (!document.ok) return document;
    if (document.value.name !== 'instance') {
      return fail('malformed_body', `Malformed XML body: expected <instance>, got <${document.value.name}>`);
    }
    return ok(readXmlInstance(document.value));
  }
  const parsed = parseJsonText(body);
  if (!parsed.ok) return parsed;
  const root = parsed.value;
  if (!isJsonObject(root)) return fail('malformed_body', 'Malformed JSON body: expected {"instance":{…}}');
  const wrapped = root['instance'];
  if (isJsonObject(wrapped)) return ok(readJsonInstance(wrapped));
  // Hand-written bodies sometimes leave out the wrapper; accept them when they clearly describe an instance.
  if (wrapped === undefined && INSTANCE_HINTS.some((key) => Object.hasOwn(root, key))) {
    return ok(readJsonInstance(root));
  }
  return fail('malformed_body', 'Malformed JSON body: expected {"instance":{…}}');
}

/** An `applications` document read back (from a peer's GET /apps, or our own output). */
export interface ApplicationsDocument {
  readonly versionsDelta: number | undefined;
  readonly appsHashCode: string;
  readonly applications: Application[];
  /** Instances left out because they would fail registration, with the reason. */
  readonly skipped: WireError[];
}

/**
 * Parses an `applications` document, e.g. a peer's registry at startup. Invalid instances are skipped and
 * reported rather than failing the whole document, so one bad registration cannot block a sync.
 */
export function parseApplications(
  body: string,
  contentType: string | null | undefined,
  options: ParseOptions = {},
): WireResult<ApplicationsDocument> {
  const now = options.now ?? Date.now();
  const text = stripBom(body);
  const document = bodyFormat(text, contentType) === 'xml' ? readXmlApplications(text) : readJsonApplications(text);
  if (!document.ok) return document;
  const instances: InstanceInfo[] = [];
  const skipped: WireError[] = [];
  for (const { app, raw } of document.value.instances) {
    const result = normalizeInstance(raw, { pathApp: app, now });
    if (result.ok) instances.push(result.value);
    else skipped.push(result.error);
  }
  return ok({
    versionsDelta: document.value.versionsDelta,
    appsHashCode: document.value.appsHashCode,
    applications: groupApplications(instances),
    skipped,
  });
}

interface RawApplications {
  versionsDelta: number | undefined;
  appsHashCode: string;
  instances: { app: string | undefined; raw: RawInstance }[];
}

function asList(value: unknown): unknown[] {
  if (Array.isArray(value)) return value as unknown[];
  // Jackson's ApplicationsDeserializer also takes a lone object where an array is expected.
  return value === undefined || value === null ? [] : [value];
}

function readJsonApplications(body: string): WireResult<RawApplications> {
  const parsed = parseJsonText(body);
  if (!parsed.ok) return parsed;
  const root = isJsonObject(parsed.value) ? parsed.value['applications'] : undefined;
  if (!isJsonObject(root)) return fail('malformed_body', 'Malformed JSON body: expected {"applications":{…}}');
  const versionsText = jsonString(root['versions__delta']);
  const result: RawApplications = {
    versionsDelta: versionsText === undefined ? undefined : parseIntegerText(versionsText),
    appsHashCode: jsonString(root['apps__hashcode']) ?? '',
    instances: [],
  };
  for (const application of asList(root['application'])) {
    if (!isJsonObject(application)) continue;
    const name = jsonString(application['name']);
    for (const instance of asList(application['instance'])) {
      if (isJsonObject(instance)) result.instances.push({ app: name, raw: readJsonInstance(instance) });
    }
  }
  return ok(result);
}

function readXmlApplications(body: string): WireResult<RawApplications> {
  const document = parseXmlDocument(body);
  if (!document.ok) return document;
  if (document.value.name !== 'applications') {
    return fail('malformed_body', `Malformed XML body: expected <applications>, got <${document.value.name}>`);
  }
  const result: RawApplications = { versionsDelta: undefined, appsHashCode: '', instances: [] };
  for (const child of document.value.children) {
    if (child.name === 'versions_delta') result.versionsDelta = parseIntegerText(child.text);
    else if (child.name === 'apps_hashcode') result.appsHashCode = child.text.trim();
    else if (child.name === 'application') readXmlApplication(child, result);
  }
  return ok(result);
}

function readXmlApplication(application: XmlElement, into: RawApplications): void {
  const name = application.children.find((child) => child.name === 'name')?.text.trim();
  for (const child of application.children) {
    if (child.name === 'instance') into.instances.push({ app: name, raw: readXmlInstance(child) });
  }
}
