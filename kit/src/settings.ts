// Settings declared once per component: flags, then environment variables, then defaults; validated; --help.

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

const TRUE_WORDS: readonly string[] = ['true', 'yes', 'on', '1'];
const FALSE_WORDS: readonly string[] = ['false', 'no', 'off', '0'];

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
  /** A switch: `--x`, `--no-x`, `--x=false`, `--x false`; the flag and the variable take the same words. */
  boolean: <const O extends Options<boolean>>(o: O): SettingSpec<boolean, Present<O>> => ({
    ...o,
    boolean: true,
    accepts: `true or false (also ${TRUE_WORDS.slice(1)
      .map((word, i) => `${word}/${FALSE_WORDS[i + 1]}`)
      .join(', ')})`,
    parse: (raw) => {
      const v = raw.trim().toLowerCase();
      if (TRUE_WORDS.includes(v)) return true;
      if (FALSE_WORDS.includes(v)) return false;
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
  const byFlag = flagsOf(specs);
  const flags = new Map(readFlags(source.argv ?? [], (flag) => byFlag.get(flag)).map((f) => [f.flag, f.raw]));
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    let raw: string | undefined;
    let from = '';
    const flagValue = spec.flag === undefined ? undefined : flags.get(spec.flag);
    if (flagValue !== undefined) {
      raw = flagValue;
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
    out[key] = parseValue(spec, raw, from);
  }
  return Object.freeze(out) as Settings<S>;
}

/** The value of a setting, or an error naming where it came from (`--port`, `PORT`) and what is accepted. */
function parseValue<T>(spec: SettingSpec<T>, raw: string, from: string): T {
  try {
    return spec.parse(raw);
  } catch {
    const shown = spec.secret === true ? '' : ` ${JSON.stringify(raw)}`;
    throw new SettingsError(`invalid ${from}:${shown} is not ${spec.accepts}`);
  }
}

function flagsOf(specs: SettingSpecs): Map<string, SettingSpec<unknown>> {
  return new Map(Object.values(specs).flatMap((spec) => (spec.flag === undefined ? [] : [[spec.flag, spec]])));
}

/** One flag as read from the command line, its value still raw (a bare switch reads "true", `--no-x` "false"). */
interface ReadFlag {
  readonly flag: string;
  readonly raw: string;
}

const NEGATION = 'no-';

/**
 * Reads `--name value` and `--name=value`; a boolean also reads as `--name`, `--no-name`, `--name false`. Values are
 * checked later by each spec's parser, so a flag and its environment variable accept the same words.
 */
function readFlags(argv: readonly string[], find: (flag: string) => SettingSpec<unknown> | undefined): ReadFlag[] {
  const read: ReadFlag[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') {
      throw new SettingsError(
        /^-[^-]/.test(arg) ? `unknown flag ${arg} (see --help)` : `unexpected argument ${arg} (see --help)`,
      );
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const spec = find(name);
    if (spec === undefined) {
      read.push(negated(name, inline, find));
      continue;
    }
    if (inline !== undefined) {
      read.push({ flag: name, raw: inline });
      continue;
    }
    const next = argv[i + 1];
    if (spec.boolean === true) {
      // A switch takes the next word as its value unless that is another flag: `--x false`, `--x --y`.
      const takesNext = next !== undefined && !next.startsWith('-');
      read.push({ flag: name, raw: takesNext ? next : 'true' });
      if (takesNext) i++;
      continue;
    }
    // `--host --port 1` is a forgotten value, not a host named "--port"; `--n -1` is a value.
    if (next === undefined || next.startsWith('--')) throw new SettingsError(`flag --${name} needs a value`);
    read.push({ flag: name, raw: next });
    i++;
  }
  return read;
}

/** `--no-x`: false for a boolean `x`; refused, saying why, for any other flag. */
function negated(
  name: string,
  inline: string | undefined,
  find: (flag: string) => SettingSpec<unknown> | undefined,
): ReadFlag {
  const base = name.startsWith(NEGATION) ? name.slice(NEGATION.length) : undefined;
  const spec = base === undefined ? undefined : find(base);
  if (base === undefined || spec === undefined) throw new SettingsError(`unknown flag --${name} (see --help)`);
  if (spec.boolean !== true) {
    throw new SettingsError(`--${name} is refused: --${base} takes a value, not on or off: ${spec.accepts}`);
  }
  if (inline !== undefined) {
    throw new SettingsError(`--${name} takes no value: write --${name}, or --${base}=true or false`);
  }
  return { flag: base, raw: 'false' };
}

/**
 * Splits one command line among several sets of settings (`trellis up`: its own, then each component's), each flag
 * going to the one set that declares it, its value checked. A flag several sets declare is refused: it could mean
 * any of them.
 *
 * @example
 * splitFlags(['--port', '1', '--no-seed'], { up: { port }, auth: { seed } }); // { up: ['--port=1'], auth: ['--seed=false'] }
 */
export function splitFlags<K extends string>(
  argv: readonly string[],
  sets: Readonly<Record<K, SettingSpecs>>,
): Record<K, string[]> {
  const owners = new Map<string, { set: K; spec: SettingSpec<unknown> }[]>();
  for (const [set, specs] of Object.entries(sets) as [K, SettingSpecs][]) {
    for (const [flag, spec] of flagsOf(specs)) owners.set(flag, [...(owners.get(flag) ?? []), { set, spec }]);
  }
  const find = (flag: string): SettingSpec<unknown> | undefined => {
    const declared = owners.get(flag) ?? [];
    if (declared.length > 1) throw new SettingsError(ambiguousFlag(flag, declared));
    return declared[0]?.spec;
  };
  const split = Object.fromEntries(Object.keys(sets).map((set) => [set, [] as string[]])) as Record<K, string[]>;
  for (const { flag, raw } of readFlags(argv, find)) {
    const owner = owners.get(flag)?.[0];
    if (owner === undefined) continue;
    // Checked now, so a bad value is refused before anything starts, not when its set is loaded.
    parseValue(owner.spec, raw, `--${flag}`);
    split[owner.set].push(`--${flag}=${raw}`);
  }
  return split;
}

/** Names the sets a flag could mean and, when each has a variable of its own, those variables: they set one alone. */
function ambiguousFlag(flag: string, declared: readonly { set: string; spec: SettingSpec<unknown> }[]): string {
  const variables = declared.map(({ spec }) => envNames(spec)[0]);
  const own = variables.every((v) => v !== undefined) && new Set(variables).size === variables.length;
  const named = declared.map(({ set }, i) => (own ? `${set} (${variables[i]})` : set));
  const hint = own ? 'set the one meant by its variable' : 'see --help';
  return `--${flag} belongs to ${named.join(', ')} alike, so it cannot be given here: ${hint}`;
}

/** `--port`, and a switch as `--[no-]strong`: both forms work. */
function flagHelpName(spec: SettingSpec<unknown>): string {
  if (spec.flag === undefined) return '';
  return spec.boolean === true ? `--[${NEGATION}]${spec.flag}` : `--${spec.flag}`;
}

/** Renders the settings as a `--help` table. */
export function renderSettingsHelp(specs: SettingSpecs): string {
  const rows = Object.values(specs).map((spec) => {
    const names = [flagHelpName(spec), ...envNames(spec)].filter(Boolean).join(', ');
    const def =
      spec.default === undefined || spec.secret === true
        ? ''
        : ` (default: ${Array.isArray(spec.default) ? spec.default.join(',') : String(spec.default)})`;
    return { names, text: `${spec.help}${def}` };
  });
  const width = Math.max(...rows.map((r) => r.names.length), 0);
  return rows.map((r) => `  ${r.names.padEnd(width)}  ${r.text}`).join('\n');
}
