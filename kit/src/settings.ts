// Settings declared once per component: flags, then environment variables, then defaults; validated; --help.
import { parseArgs } from 'node:util';

/**
 * Settings come from command-line flags, then environment variables, then defaults (the same precedence as Spring
 * Boot: command line over environment). Every component declares its settings once; the declaration drives parsing,
 * validation, `--help` and error messages that name the bad flag or variable.
 */
export interface SettingSpec<T, Present extends boolean = boolean> {
  /** Type-level only: whether a value is always there (a default, or required). */
  readonly present?: Present;
  /** Flag name without dashes, e.g. `data-dir`. */
  readonly flag?: string;
  /** Environment variable names, first match wins (e.g. Spring's `ENCRYPT_KEY` beside our own). */
  readonly env?: string | readonly string[];
  readonly help: string;
  readonly default?: T;
  readonly required?: boolean;
  /** Never echo the value in errors or help (keys, passwords). */
  readonly secret?: boolean;
  readonly parse: (raw: string) => T;
  /** Describes the accepted values in help and in errors, e.g. `a port number (0-65535)`. */
  readonly accepts: string;
  readonly boolean?: boolean;
}

/** Thrown when a setting is missing or invalid; the message names the flag and the variable. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

type Options<T> = Omit<SettingSpec<T>, 'parse' | 'accepts' | 'boolean' | 'present'>;
/** A setting always has a value when it has a default or is required. */
type Present<O> = O extends { default: NonNullable<unknown> } ? true : O extends { required: true } ? true : false;

class Reject extends Error {}

function integer(raw: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(raw.trim())) throw new Reject();
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Reject();
  return n;
}

/** Builders for setting declarations; each carries its parser so the result type is inferred. */
export const setting = {
  string: <const O extends Options<string>>(o: O): SettingSpec<string, Present<O>> => ({
    ...o,
    accepts: 'a text',
    parse: (raw) => raw,
  }),
  integer: <const O extends Options<number> & { min?: number; max?: number }>(
    o: O,
  ): SettingSpec<number, Present<O>> => {
    const min = o.min ?? Number.MIN_SAFE_INTEGER;
    const max = o.max ?? Number.MAX_SAFE_INTEGER;
    return { ...o, accepts: `a whole number from ${min} to ${max}`, parse: (raw) => integer(raw, min, max) };
  },
  port: <const O extends Options<number>>(o: O): SettingSpec<number, Present<O>> => ({
    ...o,
    accepts: 'a port number (0-65535, 0 picks a free port)',
    parse: (raw) => integer(raw, 0, 65535),
  }),
  boolean: <const O extends Options<boolean>>(o: O): SettingSpec<boolean, Present<O>> => ({
    ...o,
    boolean: true,
    accepts: 'true or false',
    parse: (raw) => {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      throw new Reject();
    },
  }),
  choice: <const C extends string, const O extends Options<C>>(
    choices: readonly C[],
    o: O,
  ): SettingSpec<C, Present<O>> => ({
    ...o,
    accepts: `one of ${choices.join(', ')}`,
    parse: (raw) => {
      const found = choices.find((c) => c === raw.trim());
      if (found === undefined) throw new Reject();
      return found;
    },
  }),
  /** Comma-separated list; empty entries dropped. */
  list: <const O extends Options<readonly string[]>>(o: O): SettingSpec<readonly string[], Present<O>> => ({
    ...o,
    accepts: 'a comma-separated list',
    parse: (raw) =>
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
  }),
  url: <const O extends Options<string>>(o: O): SettingSpec<string, Present<O>> => ({
    ...o,
    accepts: 'an absolute http(s) URL',
    parse: (raw) => {
      try {
        const u = new URL(raw.trim());
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Reject();
        return raw.trim().replace(/\/+$/, '');
      } catch {
        throw new Reject();
      }
    },
  }),
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a map of specs of any value type
export type SettingSpecs = Record<string, SettingSpec<any>>;

export type Settings<S extends SettingSpecs> = {
  readonly [K in keyof S]: S[K] extends SettingSpec<infer T, infer P> ? (P extends true ? T : T | undefined) : never;
};

export interface SettingsSource {
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
}

function envNames(spec: SettingSpec<unknown>): readonly string[] {
  if (spec.env === undefined) return [];
  return typeof spec.env === 'string' ? [spec.env] : spec.env;
}

/** How a setting is named to a user: `--port (PORT)`. */
export function settingLabel(spec: SettingSpec<unknown>): string {
  const names = [spec.flag === undefined ? undefined : `--${spec.flag}`, ...envNames(spec)].filter(Boolean);
  if (names.length === 0) return 'setting';
  const [first, ...rest] = names;
  return rest.length === 0 ? `${first}` : `${first} (${rest.join(', ')})`;
}

/**
 * Reads flags from `argv` and variables from `env`, validates each declared setting and returns a frozen object.
 * Unknown flags and invalid values throw a {@link SettingsError} naming the flag and variable.
 *
 * @example
 * const specs = { port: setting.port({ flag: 'port', env: 'PORT', default: 8761, help: 'HTTP port' }) };
 * const { port } = loadSettings(specs, { argv: process.argv.slice(2), env: process.env });
 */
export function loadSettings<S extends SettingSpecs>(specs: S, source: SettingsSource = {}): Settings<S> {
  const env = source.env ?? {};
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const spec of Object.values(specs)) {
    if (spec.flag !== undefined) options[spec.flag] = { type: spec.boolean === true ? 'boolean' : 'string' };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...(source.argv ?? [])], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new SettingsError(describeParseError(err));
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    let raw: string | undefined;
    let from = '';
    const flagValue = spec.flag === undefined ? undefined : values[spec.flag];
    if (flagValue !== undefined) {
      raw = String(flagValue);
      from = `--${spec.flag}`;
    } else {
      for (const name of envNames(spec)) {
        const v = env[name];
        if (v !== undefined && v !== '') {
          raw = v;
          from = name;
          break;
        }
      }
    }
    if (raw === undefined) {
      if (spec.default === undefined && spec.required === true) {
        throw new SettingsError(`missing ${settingLabel(spec)}: ${spec.help}`);
      }
      out[key] = spec.default;
      continue;
    }
    try {
      out[key] = spec.parse(raw);
    } catch {
      const shown = spec.secret === true ? '' : ` ${JSON.stringify(raw)}`;
      throw new SettingsError(`invalid ${from}:${shown} is not ${spec.accepts}`);
    }
  }
  return Object.freeze(out) as Settings<S>;
}

function describeParseError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown flag ${unknown[1]} (see --help)`;
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(message);
  if (missing) return `flag ${missing[1]?.split(',').pop()?.trim()} needs a value`;
  const positional = /Unexpected argument '([^']+)'/.exec(message);
  if (positional) return `unexpected argument ${positional[1]} (see --help)`;
  return message.split('\n')[0] ?? 'invalid arguments';
}

/** Renders the settings as a `--help` table. */
export function renderSettingsHelp(specs: SettingSpecs): string {
  const rows = Object.values(specs).map((spec) => {
    const names = [spec.flag === undefined ? '' : `--${spec.flag}`, ...envNames(spec)].filter(Boolean).join(', ');
    const def =
      spec.default === undefined || spec.secret === true
        ? ''
        : ` (default: ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)})`;
    return { names, text: `${spec.help}${def}` };
  });
  const width = Math.max(...rows.map((r) => r.names.length), 0);
  return rows.map((r) => `  ${r.names.padEnd(width)}  ${r.text}`).join('\n');
}
