// Spring's Environment merged into one typed, read-only view: property sources in order, secrets wrapped, diffs.
import { ConfigClientError } from './errors.ts';
import { isSecretProperty, Secret } from './secret.ts';

/** A raw value as Spring's Environment JSON carries it: YAML keeps numbers and booleans, `.properties` only text. */
export type RawValue = string | number | boolean;

/** A merged value: secrets come wrapped (see {@link isSecretProperty} for the rule). */
export type ConfigValue = RawValue | Secret;

/** One property source as the server sent it, most specific first. */
export interface RawPropertySource {
  readonly name: string;
  readonly source: Readonly<Record<string, RawValue>>;
  /**
   * Keys of this source whose values the server decrypted from `{cipher}` values: always secrets, whatever their
   * names. Trellis config servers say so in a response header; undefined from servers that do not (Spring's).
   */
  readonly decrypted?: readonly string[];
}

/** Spring's Environment, as read from `GET /{name}/{profiles}[/{label}]`. */
export interface RawEnvironment {
  readonly name: string;
  readonly profiles: readonly string[];
  readonly label: string | null;
  readonly version: string | null;
  readonly state: string | null;
  readonly propertySources: readonly RawPropertySource[];
}

/** Keys added, removed and changed between two configurations, each list sorted. */
export interface ConfigDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly string[];
}

/** Where Spring Boot would bind a list from: every prefix of the key that is followed by an index. */
function listRoots(key: string): string[] {
  const roots: string[] = [];
  for (let i = key.indexOf('['); i !== -1; i = key.indexOf('[', i + 1)) roots.push(key.slice(0, i));
  return roots;
}

/**
 * Merges property sources the way a Spring client sees them: the first source holding a key wins, in the server's
 * order (most specific first). Lists follow Spring Boot's binder: a list comes whole from the first source that has
 * any element of it (or the key itself, comma-separated), so a profile's 2-element list is not padded with a third
 * element from `application.yml`.
 */
export function mergePropertySources(sources: readonly RawPropertySource[]): Map<string, RawValue> {
  const merged = new Map<string, RawValue>();
  const claimed = new Set<string>();
  for (const source of sources) {
    const entries = Object.entries(source.source);
    for (const [key, value] of entries) {
      if (merged.has(key)) continue;
      if (listRoots(key).some((root) => claimed.has(root))) continue;
      merged.set(key, value);
    }
    // Claimed after the whole source: its own elements do not shadow each other.
    for (const [key] of entries) {
      claimed.add(key);
      for (const root of listRoots(key)) claimed.add(root);
    }
  }
  return merged;
}

/** A nested value built from a prefix: objects for dotted segments, arrays for indices. */
export type ConfigTree = { [key: string]: ConfigNode };
export type ConfigNode = ConfigValue | ConfigTree | ConfigNode[];

function path(rest: string): (string | number)[] {
  const parts: (string | number)[] = [];
  for (const match of rest.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (match[2] !== undefined) parts.push(Number(match[2]));
    else if (match[1] !== undefined) parts.push(match[1]);
  }
  return parts;
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null && !(v instanceof Secret);
}

function setPath(root: Record<string, unknown>, parts: readonly (string | number)[], value: ConfigValue): void {
  let node: Container = root;
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const slot = node as Record<string | number, unknown>;
    if (last) {
      // A deeper key (`a.b`) already made `a` an object: the nested form is the more specific one, keep it.
      if (!isContainer(slot[part])) slot[part] = value;
      return;
    }
    const next = parts[i + 1];
    if (!isContainer(slot[part])) slot[part] = typeof next === 'number' ? [] : {};
    node = slot[part] as Container;
  });
}

/** Sparse indices (`a[0]`, `a[2]`) become a dense list, in index order. */
function compact(node: unknown): unknown {
  if (Array.isArray(node)) return node.filter((v) => v !== undefined).map(compact);
  if (isContainer(node)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, compact(v)]));
  return node;
}

const TRUE = new Set(['true', 'on', 'yes', '1']);
const FALSE = new Set(['false', 'off', 'no', '0']);

/**
 * An immutable, merged view of one fetched environment with typed getters. Secrets stay wrapped everywhere (the
 * getters, `getObject`, `toJSON`, `util.inspect`), so the whole object can be logged.
 */
export class ConfigProperties {
  readonly name: string;
  readonly profiles: readonly string[];
  readonly label: string | null;
  readonly version: string | null;
  readonly state: string | null;
  /** Property source names, most specific first (the server's order). */
  readonly propertySources: readonly string[];
  /** Keys the server could not decrypt (it serves them as `invalid.<key>: <n/a>`). */
  readonly undecryptable: readonly string[];
  readonly #values: ReadonlyMap<string, ConfigValue>;

  constructor(env: RawEnvironment, secretKeys: readonly (string | RegExp)[] = []) {
    this.name = env.name;
    this.profiles = Object.freeze([...env.profiles]);
    this.label = env.label;
    this.version = env.version;
    this.state = env.state;
    this.propertySources = Object.freeze(env.propertySources.map((s) => s.name));
    const values = new Map<string, ConfigValue>();
    const undecryptable: string[] = [];
    const sources = env.propertySources.map((s) => ({ source: s.source, decrypted: new Set(s.decrypted ?? []) }));
    // The merge takes each key from the first source that holds it, so that source says whether it was decrypted.
    const wasDecrypted = (key: string): boolean =>
      sources.find((s) => Object.hasOwn(s.source, key))?.decrypted.has(key) === true;
    for (const [key, value] of mergePropertySources(env.propertySources)) {
      if (key.startsWith('invalid.') && value === '<n/a>') undecryptable.push(key.slice('invalid.'.length));
      const secret = wasDecrypted(key) || isSecretProperty(key, value, secretKeys);
      values.set(key, secret ? new Secret(String(value)) : value);
    }
    this.#values = values;
    this.undecryptable = Object.freeze(undecryptable.sort());
  }

  /** An empty configuration, for a client that started without its server (`failFast: false`). */
  static empty(name: string, profiles: readonly string[], label: string | undefined): ConfigProperties {
    return new ConfigProperties({
      name,
      profiles,
      label: label ?? null,
      version: null,
      state: null,
      propertySources: [],
    });
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  /** Every key, in merge order. */
  keys(): string[] {
    return [...this.#values.keys()];
  }

  /**
   * The raw value, a {@link Secret} for secrets, or undefined.
   *
   * @example
   * config.get('server.port'); // 7001
   */
  get(key: string): ConfigValue | undefined {
    return this.#values.get(key);
  }

  /**
   * A value as text; numbers and booleans from YAML are turned into text. Throws `missing_key` when absent without a
   * default, and `secret_value` for a secret (use {@link getSecret}).
   *
   * @example
   * const host = config.getString('db.host', 'localhost');
   */
  getString(key: string, defaultValue?: string): string {
    const value = this.#plain(key);
    if (value === undefined) return this.#orDefault(key, defaultValue, 'a string');
    return String(value);
  }

  /**
   * A number (YAML number or numeric text). Throws `missing_key` or `invalid_value` naming the key.
   *
   * @example
   * const port = config.getNumber('server.port', 7001);
   */
  getNumber(key: string, defaultValue?: number): number {
    const value = this.#plain(key);
    if (value === undefined) return this.#orDefault(key, defaultValue, 'a number');
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(n)) throw this.#invalid(key, value, 'a number');
    return n;
  }

  /**
   * A boolean: YAML booleans, or true/false, on/off, yes/no, 1/0 in any case (Spring's conversion).
   *
   * @example
   * if (config.getBoolean('feature.reviews.enabled', true)) app.route('/reviews', reviews);
   */
  getBoolean(key: string, defaultValue?: boolean): boolean {
    const value = this.#plain(key);
    if (value === undefined) return this.#orDefault(key, defaultValue, 'a boolean');
    if (typeof value === 'boolean') return value;
    const text = String(value).trim().toLowerCase();
    if (TRUE.has(text)) return true;
    if (FALSE.has(text)) return false;
    throw this.#invalid(key, value, 'a boolean (true/false)');
  }

  /**
   * A list of strings: indexed keys (`key[0]`, `key[1]`… as YAML lists arrive) or one comma-separated value.
   *
   * @example
   * const origins = config.getList('cors.allowed-origins', []);
   */
  getList(key: string, defaultValue?: readonly string[]): string[] {
    const indexed: [number, RawValue][] = [];
    const pattern = new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\[(\\d+)\\]$`);
    for (const k of this.#values.keys()) {
      const m = pattern.exec(k);
      if (m?.[1] !== undefined) indexed.push([Number(m[1]), this.#plain(k) as RawValue]);
    }
    if (indexed.length > 0) return indexed.sort((a, b) => a[0] - b[0]).map(([, v]) => String(v));
    const value = this.#plain(key);
    if (value === undefined) {
      if (defaultValue !== undefined) return [...defaultValue];
      throw this.#missing(key, 'a list');
    }
    const text = String(value);
    return text.trim() === '' ? [] : text.split(',').map((s) => s.trim());
  }

  /**
   * A value as a {@link Secret}, whether or not the rule marked it one (callers may treat any value as secret).
   *
   * @example
   * const password = config.getSecret('spring.datasource.password').reveal();
   */
  getSecret(key: string, defaultValue?: string): Secret {
    const value = this.#values.get(key);
    if (value instanceof Secret) return value;
    if (value !== undefined) return new Secret(String(value));
    if (defaultValue !== undefined) return new Secret(defaultValue);
    throw this.#missing(key, 'a secret');
  }

  /**
   * Every key under `prefix` as a nested object (dotted segments become objects, `[n]` indices arrays); secrets stay
   * wrapped. `{}` when nothing is under the prefix. Keys are kept as written (`sliding-window-size`), as Spring's
   * relaxed binding would see them.
   *
   * @example
   * const breakers = config.getObject('resilience4j.circuitbreaker.instances');
   * // { product: { 'sliding-window-size': 10, 'failure-rate-threshold': 50 } }
   */
  getObject(prefix: string): ConfigTree {
    const root: Record<string, unknown> = {};
    const start = prefix === '' ? '' : `${prefix}.`;
    for (const [key, value] of this.#values) {
      if (!key.startsWith(start)) continue;
      const parts = path(key.slice(start.length));
      // `[0].x` right under the prefix is a list: getList's business, not an object's.
      if (parts.length > 0 && typeof parts[0] === 'string') setPath(root, parts, value);
    }
    return compact(root) as ConfigTree;
  }

  /** Keys added, removed and changed from `previous` to this configuration. */
  diff(previous: ConfigProperties): ConfigDiff {
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    for (const [key, value] of this.#values) {
      const before = previous.#values.get(key);
      if (before === undefined) added.push(key);
      else if (!same(before, value)) changed.push(key);
    }
    for (const key of previous.#values.keys()) if (!this.#values.has(key)) removed.push(key);
    return { added: added.sort(), removed: removed.sort(), changed: changed.sort() };
  }

  /** Every property with secrets masked, plus where they came from: safe for logs and `/actuator` pages. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      profiles: this.profiles,
      label: this.label,
      version: this.version,
      propertySources: this.propertySources,
      properties: Object.fromEntries(this.#values),
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, unknown> {
    return this.toJSON();
  }

  #plain(key: string): RawValue | undefined {
    const value = this.#values.get(key);
    if (value instanceof Secret) {
      throw new ConfigClientError(
        'secret_value',
        `${key} is a secret; read it with getSecret(${JSON.stringify(key)}).reveal()`,
        { key },
      );
    }
    return value;
  }

  #orDefault<T>(key: string, defaultValue: T | undefined, what: string): T {
    if (defaultValue !== undefined) return defaultValue;
    throw this.#missing(key, what);
  }

  #missing(key: string, what: string): ConfigClientError {
    const where = this.propertySources.length === 0 ? 'no property sources' : this.propertySources.join(', ');
    return new ConfigClientError(
      'missing_key',
      `required configuration key ${key} (${what}) is not set for ${this.name}/${this.profiles.join(',')} (${where})`,
      { key },
    );
  }

  #invalid(key: string, value: RawValue, what: string): ConfigClientError {
    return new ConfigClientError('invalid_value', `${key} must be ${what}, not ${JSON.stringify(value)}`, { key });
  }
}

function same(a: ConfigValue, b: ConfigValue): boolean {
  if (a instanceof Secret || b instanceof Secret) return a instanceof Secret && b instanceof Secret && a.equals(b);
  return a === b;
}
