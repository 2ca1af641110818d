// Query parameters of the Eureka API, validated before anything changes: a bad value is a 400 naming it.
import type { KitEnv } from '@trellis/kit';
import type { Context } from 'hono';
import { appNameProblem, asciiUpperCase, instanceIdProblem, parseInstanceStatus } from '../eureka/index.ts';
import type { InstanceStatus } from '../eureka/index.ts';
import { limitError, RegistryError } from '../errors.ts';
import { futureTimestamp } from '../registry/limits.ts';
import type { RegistrationLimits } from '../registry/limits.ts';

/** The `{APP}` path segment as Eureka keys it (ASCII upper-cased); 400 when it is not a name the registry takes. */
export function appParam(c: Context<KitEnv>): string {
  const app = c.req.param('app') ?? '';
  const problem = appNameProblem(app);
  if (problem !== undefined) throw new RegistryError('invalid_request', problem);
  return asciiUpperCase(app);
}

/** The `{ID}` path segment; 400 when it is not an instance id the registry takes (no such instance can exist). */
export function idParam(c: Context<KitEnv>): string {
  const id = c.req.param('id') ?? '';
  const problem = instanceIdProblem(id);
  if (problem !== undefined) throw new RegistryError('invalid_request', problem);
  return id;
}

/** A status parameter; undefined when absent or empty, 400 when not one of Eureka's statuses. */
export function statusQuery(c: Context<KitEnv>, ...names: string[]): InstanceStatus | undefined {
  for (const name of names) {
    const raw = c.req.query(name);
    if (raw === undefined || raw === '') continue;
    const status = parseInstanceStatus(raw);
    if (status === undefined) {
      throw new RegistryError(
        'invalid_request',
        `Invalid ${name} ${JSON.stringify(raw)}: expected UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN`,
      );
    }
    return status;
  }
  return undefined;
}

/** `lastDirtyTimestamp`: milliseconds since the epoch; undefined when absent or empty, 400 when not a number. */
export function timestampQuery(c: Context<KitEnv>, name = 'lastDirtyTimestamp'): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return undefined;
  const value = parseTimestamp(raw);
  if (value === undefined) {
    throw new RegistryError('invalid_request', `Invalid ${name} ${JSON.stringify(raw)}: expected milliseconds`);
  }
  return value;
}

/**
 * `lastDirtyTimestamp` as a write takes it: also refused (400) when ahead of the registry's clock beyond the allowed
 * skew, since a newer lastDirtyTimestamp is what makes the registry keep an instance's copy over its re-registrations.
 */
export function dirtyTimestampQuery(c: Context<KitEnv>, limits: RegistrationLimits, now: number): number | undefined {
  const value = timestampQuery(c);
  const future = futureTimestamp(value, limits, now);
  if (future !== undefined) throw limitError(future);
  return value;
}

/** Milliseconds since the epoch as Eureka sends them (digits, surrounding blanks allowed); undefined when not. */
export function parseTimestamp(raw: string): number | undefined {
  const trimmed = raw.trim();
  const value = Number(trimmed);
  return /^\d+$/.test(trimmed) && Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Every query parameter as an entry, without prototype surprises (`__proto__` is an ordinary key). A repeated key is
 * refused (400): which of its values to keep would be a guess (Eureka keeps the first), and the entries are documented
 * as an object, which cannot repeat a key.
 */
export function queryEntries(c: Context<KitEnv>): Record<string, string> {
  const entries: [string, string][] = [];
  const seen = new Set<string>();
  for (const [key, value] of new URL(c.req.url).searchParams) {
    if (key === '') continue;
    if (seen.has(key)) throw new RegistryError('invalid_request', 'Invalid query: a key is given more than once');
    seen.add(key);
    entries.push([key, value]);
  }
  return Object.fromEntries(entries);
}

/** Both spellings of a path: clients add trailing slashes (`apps/`), Spring tolerates them, so do we. */
export function paths(path: string): string[] {
  return [path, `${path}/`];
}
