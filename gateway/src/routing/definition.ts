// Spring Cloud Gateway's route definition, as its YAML and its actuator API carry it.

// `{id, uri, order, predicates, filters, metadata}` where each predicate and filter is either the shortcut
// `Name=arg1,arg2` or `{name, args}`.
import { GatewayError } from '../errors.ts';

/** A predicate or filter in the expanded form; shortcut arguments become `_genkey_0`, `_genkey_1`… as in Spring. */
export interface ComponentDefinition {
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface RouteDefinition {
  readonly id: string;
  readonly uri: string;
  readonly order: number;
  readonly predicates: readonly ComponentDefinition[];
  readonly filters: readonly ComponentDefinition[];
  readonly metadata: Readonly<Record<string, unknown>>;
}

const GENKEY = '_genkey_';

/**
 * Route ids: what files and the route API accept (the API document's path parameter pattern too, so ASCII classes:
 * other regex engines read `\w` as letters of any script).
 */
export const ROUTE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** `order` given as text: what the config server's flattened properties carry (`"1"`), taken as Jackson coerces it. */
export const ORDER_TEXT = /^[-+]?[0-9]{1,15}$/;

/** A route's order: an integer, its text, or nothing (0); a fraction, `true`, `""` or a list is refused. */
function orderOf(raw: unknown, id: string): number {
  if (raw === undefined || raw === null) return 0;
  const order = typeof raw === 'string' && ORDER_TEXT.test(raw) ? Number(raw) : raw;
  if (typeof order !== 'number' || !Number.isSafeInteger(order)) {
    throw new GatewayError('invalid_route', `route ${id}: order must be an integer`);
  }
  return order;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `Path=/a/**,/b/**` → `{name: 'Path', args: {_genkey_0: '/a/**', _genkey_1: '/b/**'}}`, Spring's NameUtils naming. */
export function parseShortcut(text: string): ComponentDefinition {
  const eq = text.indexOf('=');
  const name = (eq === -1 ? text : text.slice(0, eq)).trim();
  const args: Record<string, string> = {};
  if (eq !== -1) {
    text
      .slice(eq + 1)
      .split(',')
      .forEach((part, i) => (args[`${GENKEY}${i}`] = part.trim()));
  }
  return { name, args };
}

function component(raw: unknown, where: string): ComponentDefinition {
  if (typeof raw === 'string') return parseShortcut(raw);
  if (isRecord(raw) && typeof raw.name === 'string') {
    const args = raw.args === undefined || raw.args === null ? {} : raw.args;
    // `args: /foo/**` (a scalar) is what some files write for a one-argument factory.
    return { name: raw.name, args: isRecord(args) ? { ...args } : { [`${GENKEY}0`]: args } };
  }
  throw new GatewayError('invalid_route', `${where} must be "Name=args" or {name, args}`);
}

/** Validates one route definition from a file or the management API; `id` may come from the URL instead. */
export function readRouteDefinition(raw: unknown, idFromPath?: string): RouteDefinition {
  if (!isRecord(raw)) throw new GatewayError('invalid_route', 'a route must be an object with id, uri and predicates');
  const id = idFromPath ?? raw.id;
  if (typeof id !== 'string' || !ROUTE_ID.test(id)) {
    throw new GatewayError('invalid_route', 'a route needs an id of letters, digits, ".", ":", "_" or "-"');
  }
  if (typeof raw.uri !== 'string' || raw.uri === '') {
    throw new GatewayError('invalid_route', `route ${id}: uri is required`);
  }
  const order = orderOf(raw.order, id);
  const list = (key: 'predicates' | 'filters'): ComponentDefinition[] => {
    const value = raw[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw new GatewayError('invalid_route', `route ${id}: ${key} must be a list`);
    return value.map((item, i) => component(item, `route ${id}: ${key}[${i}]`));
  };
  const metadata = raw.metadata === undefined || raw.metadata === null ? {} : raw.metadata;
  if (!isRecord(metadata)) throw new GatewayError('invalid_route', `route ${id}: metadata must be an object`);
  return { id, uri: raw.uri, order, predicates: list('predicates'), filters: list('filters'), metadata };
}

/**
 * Reads a predicate's or filter's arguments by name, whichever form they came in: positional shortcut values
 * (mapped to `fields` in order), Spring's camelCase or kebab-case keys, and prefixed keys such as
 * `redis-rate-limiter.replenishRate` (flat, or nested after YAML expansion).
 */
export class Args {
  readonly #named = new Map<string, unknown>();
  readonly #positional: unknown[] = [];
  readonly #where: string;

  constructor(definition: ComponentDefinition, fields: readonly string[], where: string) {
    this.#where = where;
    const put = (key: string, value: unknown): void => {
      if (isRecord(value) && !key.startsWith(GENKEY)) {
        // Nested groups (`backoff: {firstBackoff: 10ms}`, `redis-rate-limiter: {…}`) are read by their inner names.
        for (const [k, v] of Object.entries(value)) put(`${key}.${k}`, v);
      }
      this.#named.set(normalize(key), value);
      const dot = key.lastIndexOf('.');
      if (dot !== -1) this.#named.set(normalize(key.slice(dot + 1)), value);
    };
    for (const [key, value] of Object.entries(definition.args)) {
      if (key.startsWith(GENKEY)) this.#positional[Number(key.slice(GENKEY.length))] = value;
      else put(key, value);
    }
    fields.forEach((field, i) => {
      const value = this.#positional[i];
      if (value !== undefined && !this.#named.has(normalize(field))) this.#named.set(normalize(field), value);
    });
  }

  /** Every positional value from `from` on (for factories that take a list: Path, Host, Method). */
  rest(from = 0): string[] {
    return this.#positional.slice(from).map(String);
  }

  has(name: string): boolean {
    return this.#named.has(normalize(name));
  }

  raw(name: string): unknown {
    return this.#named.get(normalize(name));
  }

  string(name: string): string {
    const value = this.optionalString(name);
    if (value === undefined) throw this.error(`${name} is required`);
    return value;
  }

  optionalString(name: string): string | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw this.error(`${name} must be a single value`);
  }

  /** A list from a YAML list, or from a comma-separated string. */
  list(name: string): string[] | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    if (Array.isArray(value)) return value.map(String);
    if (isRecord(value)) return Object.values(value).map(String); // `{0: a, 1: b}` from Spring's indexed keys
    return (scalarText(value) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  integer(name: string, fallback: number, min = 0): number {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < min) throw this.error(`${name} must be a whole number from ${min}`);
    return n;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.optionalString(name);
    if (value === undefined) return fallback;
    if (/^true$/i.test(value)) return true;
    if (/^false$/i.test(value)) return false;
    throw this.error(`${name} must be true or false`);
  }

  error(reason: string): GatewayError {
    return new GatewayError('invalid_route', `${this.#where}: ${reason}`);
  }
}

/** A YAML scalar as text; undefined for objects and lists, which have no meaningful text form. */
export function scalarText(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;
}

function normalize(key: string): string {
  return key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()).toLowerCase();
}

/** Spring's DataSize: `5000000`, `5MB`, `512KB`, `1GB` (binary multiples, as Spring's). */
export function parseDataSize(text: string): number | undefined {
  const m = /^\s*(\d+)\s*(B|KB|MB|GB)?\s*$/i.exec(text);
  if (m === null) return undefined;
  const unit = (m[2] ?? 'B').toUpperCase();
  const factor = unit === 'KB' ? 1024 : unit === 'MB' ? 1024 ** 2 : unit === 'GB' ? 1024 ** 3 : 1;
  return Number(m[1]) * factor;
}

/** Spring's Duration as Boot binds it: `500` (ms), `500ms`, `10s`, `1m`, ISO-8601 `PT10S`. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  const simple = /^(\d+)(ms|s|m|h)?$/i.exec(t);
  if (simple !== null) {
    const unit = (simple[2] ?? 'ms').toLowerCase();
    const factor = unit === 's' ? 1000 : unit === 'm' ? 60_000 : unit === 'h' ? 3_600_000 : 1;
    return Number(simple[1]) * factor;
  }
  const iso = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/i.exec(t);
  if (iso !== null && t.length > 2) {
    return Math.round((Number(iso[1] ?? 0) * 3600 + Number(iso[2] ?? 0) * 60 + Number(iso[3] ?? 0)) * 1000);
  }
  return undefined;
}
