// What texts the registry takes. Names decide things (the key an instance is stored and limited under, the routes
// that reach it), so they are held to ASCII and upper-cased by ASCII alone: toUpperCase() folds ſ to S and ı to I, so
// "product-compoſite" would be stored as PRODUCT-COMPOSITE. Every other text is held to what XML 1.0 can carry: a
// single control character (emitted as &#x0;) makes Java's Xerces refuse the whole GET /apps document, so one
// registration would break every XML client's full fetch. Names are also capped in length: an id of 70 KB can be
// registered but never deleted, since no server takes a request line that long. Pure: no HTTP.
import { asciiUpperCase } from '@trellis/clients/discovery';
import type { InstanceInfo } from './instance.ts';

export { asciiUpperCase };

/** Longest app name, instance id, host name or VIP address list (a DNS name is at most 253 characters). */
export const MAX_NAME_LENGTH = 256;

// Spring's spring.application.name and eureka-js-client's app are such names in practice.
const APP_NAME = /^[A-Za-z0-9._-]+$/;
// Spring's host:app:port (or host:app:random-hex), eureka-js-client's host name or IP address, AWS instance ids.
const INSTANCE_ID = /^[A-Za-z0-9._:@-]+$/;
// A comma-separated list of VIP addresses (name or name:port), blanks after the commas forgiven as in the lookup.
const VIP_ADDRESSES = /^[A-Za-z0-9._:-]+(?: *, *[A-Za-z0-9._:-]+)*$/;
// Control characters (C0, DEL, C1), lone surrogates and U+FFFE/U+FFFF: XML 1.0 cannot carry them (C1 it can, but no
// registration has a use for them and they hide text in logs and the dashboard).
const UNSAFE_TEXT = /[\p{Cc}\uFFFE\uFFFF]|\p{Cs}/u;

/** The first character the pattern refuses, as `U+XXXX at N`, so a reason never echoes the character itself. */
function firstRefused(value: string, allowed: RegExp): string {
  for (let i = 0; i < value.length; i++) {
    const char = value.codePointAt(i) ?? 0;
    const text = String.fromCodePoint(char);
    if (!allowed.test(text)) return `U+${char.toString(16).toUpperCase().padStart(4, '0')} at ${i}`;
    if (char > 0xffff) i++;
  }
  return 'none';
}

const APP_CHAR = /^[A-Za-z0-9._-]$/;
const ID_CHAR = /^[A-Za-z0-9._:@-]$/;
const VIP_CHAR = /^[A-Za-z0-9._:, -]$/;
const SAFE_CHAR = /^(?![\p{Cc}\uFFFE\uFFFF]|\p{Cs})[\s\S]$/u;

function nameProblem(field: string, value: string, pattern: RegExp, char: RegExp, allowed: string): string | undefined {
  if (value.length > MAX_NAME_LENGTH) {
    return `${field} is ${value.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`;
  }
  // Every HTTP client resolves a "." or ".." path segment away: an instance so named could never be read, renewed or
  // cancelled by its path, only wait for its lease to run out.
  if (value === '.' || value === '..') return `Invalid ${field}: "." and ".." cannot be a path segment`;
  if (pattern.test(value)) return undefined;
  return `Invalid ${field}: only ${allowed} are allowed (refused ${firstRefused(value, char)})`;
}

/** Why an application name is refused (path `{APP}`, body `app`, a peer's appName); undefined when it is fine. */
export function appNameProblem(value: string, field = 'app'): string | undefined {
  return nameProblem(field, value, APP_NAME, APP_CHAR, "ASCII letters, digits, '-', '_' and '.'");
}

/** Why an instance id is refused (path `{ID}`, body instanceId, a peer's id); undefined when it is fine. */
export function instanceIdProblem(value: string, field = 'instanceId'): string | undefined {
  return nameProblem(field, value, INSTANCE_ID, ID_CHAR, "ASCII letters, digits, '-', '_', '.', ':' and '@'");
}

/** Why a VIP address (a lookup) or a list of them (vipAddress, secureVipAddress) is refused. */
export function vipProblem(value: string, field = 'vipAddress'): string | undefined {
  // Clients that set no VIP address may send an empty one; it matches no lookup.
  if (value === '') return undefined;
  return nameProblem(
    field,
    value,
    VIP_ADDRESSES,
    VIP_CHAR,
    "comma-separated ASCII letters, digits, '-', '_', '.' and ':'",
  );
}

/** Why a text is refused (a character XML 1.0 cannot carry, or a control character); undefined when it is fine. */
export function textProblem(field: string, value: string): string | undefined {
  if (!UNSAFE_TEXT.test(value)) return undefined;
  return `Invalid ${field}: control characters, lone surrogates and U+FFFE/U+FFFF are not allowed (refused ${firstRefused(value, SAFE_CHAR)})`;
}

/** Why a metadata map is refused: a key or value textProblem refuses. */
export function metadataProblem(metadata: Readonly<Record<string, string>>, field = 'metadata'): string | undefined {
  for (const [key, value] of Object.entries(metadata)) {
    const problem = textProblem(`${field} key`, key) ?? textProblem(`${field}.${safeLabel(key)}`, value);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** A key as a reason may name it: only when it is itself a plain short name. */
function safeLabel(key: string): string {
  return /^[\w.-]{1,64}$/.test(key) ? key : '…';
}

/**
 * Why an instance is refused: its names (app, instanceId, hostName, VIP addresses) or any text it carries. Every
 * way in (a registration, a peer's batch or start-up copy, a restart reading the store) is held to it, so nothing
 * the XML and JSON answers cannot carry is ever served.
 */
export function instanceTextProblem(instance: InstanceInfo): string | undefined {
  const names =
    appNameProblem(instance.app) ??
    instanceIdProblem(instance.instanceId) ??
    (instance.hostName.length > MAX_NAME_LENGTH
      ? `hostName is ${instance.hostName.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`
      : undefined) ??
    (instance.vipAddress === null ? undefined : vipProblem(instance.vipAddress)) ??
    (instance.secureVipAddress === null ? undefined : vipProblem(instance.secureVipAddress, 'secureVipAddress'));
  if (names !== undefined) return names;
  const texts: [string, string | null][] = [
    ['appGroupName', instance.appGroupName],
    ['ipAddr', instance.ipAddr],
    ['sid', instance.sid],
    ['hostName', instance.hostName],
    ['homePageUrl', instance.homePageUrl],
    ['statusPageUrl', instance.statusPageUrl],
    ['healthCheckUrl', instance.healthCheckUrl],
    ['secureHealthCheckUrl', instance.secureHealthCheckUrl],
    ['asgName', instance.asgName],
  ];
  for (const [field, value] of texts) {
    const problem = value === null ? undefined : textProblem(field, value);
    if (problem !== undefined) return problem;
  }
  return (
    metadataProblem(instance.metadata) ??
    metadataProblem(instance.dataCenterInfo.metadata ?? {}, 'dataCenterInfo.metadata')
  );
}
