// Spring Cloud Gateway's route predicate factories, by the names its YAML uses.
import { BlockList, isIP } from 'node:net';
import { Args, type ComponentDefinition } from './definition.ts';
import { firstHeader, headerValues, type RequestView } from './exchange.ts';
import { compilePathPattern } from './path-pattern.ts';
import { compileLinear, MAX_PATTERN_LENGTH } from './safe-regex.ts';

/** True when the request matches; may record URI variables in `vars`. */
export type Predicate = (request: RequestView, vars: Record<string, string>) => boolean;

export interface PredicateContext {
  readonly routeId: string;
  /** Records a route's weight in a group, for the Weight predicate. */
  addWeight(group: string, routeId: string, weight: number): void;
}

interface PredicateFactory {
  /** Argument names in shortcut order. */
  readonly fields: readonly string[];
  build(args: Args, context: PredicateContext): Predicate;
}

/**
 * Longest header, query or cookie value a pattern is tried on; a longer one does not match. The linear-time engine
 * costs pattern size × value size; this bounds the second factor per value.
 */
export const MAX_MATCHED_LENGTH = 1024;

/** Java's String.matches: the whole value must match. Runs on the linear-time engine (see safe-regex.ts). */
function fullMatch(source: string, args: Args): (value: string) => boolean {
  let regex: RegExp;
  try {
    // The source alone first, so that `a)|(b` cannot close the wrapping group and pass as valid.
    compileLinear(source);
    regex = compileLinear(`^(?:${source})$`);
  } catch (err) {
    throw args.error(`${JSON.stringify(source)} is refused: ${(err as Error).message}`);
  }
  return (value) => value.length <= MAX_MATCHED_LENGTH && regex.test(value);
}

/** Spring's ZonedDateTime form `2017-01-20T17:42:47.789-07:00[America/Denver]`, ISO-8601, or epoch milliseconds. */
function parseTime(text: string, args: Args): number {
  const t = text.trim();
  const ms = /^\d+$/.test(t) ? Number(t) : Date.parse(t.replace(/\[[^\]]*\]$/, ''));
  if (Number.isNaN(ms))
    throw args.error(`${JSON.stringify(text)} is not a date-time like 2017-01-20T17:42:47.789-07:00`);
  return ms;
}

/** `**.example.org`, `{sub}.example.org`, `www.example.org:8080`: AntPathMatcher with `.` as the separator. */
function hostMatcher(pattern: string): (host: string, vars: Record<string, string>) => boolean {
  const names: string[] = [];
  const tokens = pattern.toLowerCase().split('.');
  let regex = '';
  tokens.forEach((token, i) => {
    const last = i === tokens.length - 1;
    if (token === '**') {
      regex += last ? (i === 0 ? '.*' : '(?:\\..*)?') : '(?:[^.]+\\.)*';
      return;
    }
    const body = token
      .split(/(\{\w+\}|\*|\?)/)
      .map((part) => {
        if (part === '*') return '[^.]*';
        if (part === '?') return '[^.]';
        const v = /^\{(\w+)\}$/.exec(part);
        if (v?.[1] !== undefined) {
          names.push(v[1]);
          return '([^.]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('');
    regex += body + (last ? '' : '\\.');
  });
  // Globs only, but `**.**.**` is a chain of starred groups that backtracks polynomially on a long dotted host.
  const compiled = compileLinear(`^${regex}$`, '', 4 * MAX_PATTERN_LENGTH);
  const withPort = pattern.includes(':');
  return (host, vars) => {
    const h = host.toLowerCase();
    // A pattern without a port matches the host whatever port the client used.
    const subject = withPort ? h : h.replace(/:\d+$/, '');
    const m = compiled.exec(subject);
    if (m === null) return false;
    names.forEach((name, i) => (vars[name] = m[i + 1] ?? ''));
    return true;
  };
}

function cookies(header: string | undefined): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    const list = out.get(name) ?? [];
    list.push(part.slice(eq + 1).trim());
    out.set(name, list);
  }
  return out;
}

/** IPv4 or IPv6 address or CIDR block, as Spring's RemoteAddr takes them. */
function addSource(list: BlockList, source: string, args: Args): void {
  const [address = '', prefix] = source.trim().split('/');
  const family = isIP(address);
  if (family === 0) throw args.error(`${JSON.stringify(source)} is not an IP address or CIDR block`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (prefix === undefined) {
    list.addAddress(address, type);
    return;
  }
  const bits = Number(prefix);
  if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
    throw args.error(`${JSON.stringify(source)} has an invalid prefix length`);
  }
  list.addSubnet(address, bits, type);
}

const FACTORIES: Readonly<Record<string, PredicateFactory>> = {
  Path: {
    fields: ['patterns'],
    build(args) {
      // Shortcut: every value is a pattern except a trailing true/false (matchTrailingSlash), as in Spring.
      let sources = args.list('patterns') ?? [];
      let trailing = args.boolean('matchTrailingSlash', true);
      const rest = args.rest();
      if (rest.length > 0) {
        const tail = rest[rest.length - 1] ?? '';
        const flag = /^(true|false)$/i.test(tail);
        sources = flag ? rest.slice(0, -1) : rest;
        if (flag) trailing = /^true$/i.test(tail);
      }
      if (sources.length === 0) throw args.error('at least one pattern is required');
      const patterns = sources.map((s) => {
        try {
          return compilePathPattern(s, trailing);
        } catch (err) {
          throw args.error(err instanceof Error ? err.message : String(err));
        }
      });
      return (request, vars) => {
        for (const p of patterns) {
          const found = p.match(request.path);
          if (found !== undefined) {
            Object.assign(vars, found);
            return true;
          }
        }
        return false;
      };
    },
  },
  Host: {
    fields: ['patterns'],
    build(args) {
      const sources = args.rest().length > 0 ? args.rest() : (args.list('patterns') ?? []);
      if (sources.length === 0) throw args.error('at least one host pattern is required');
      const matchers = sources.map(hostMatcher);
      return (request, vars) => {
        const host = firstHeader(request.headers, 'host');
        return host !== undefined && matchers.some((m) => m(host, vars));
      };
    },
  },
  Method: {
    fields: ['methods'],
    build(args) {
      const methods = new Set(
        (args.rest().length > 0 ? args.rest() : (args.list('methods') ?? [])).map((m) => m.toUpperCase()),
      );
      if (methods.size === 0) throw args.error('at least one method is required');
      return (request) => methods.has(request.method);
    },
  },
  Header: {
    fields: ['header', 'regexp'],
    build(args) {
      const name = args.string('header').toLowerCase();
      const source = args.optionalString('regexp');
      const matches = source === undefined || source === '' ? undefined : fullMatch(source, args);
      return (request) => {
        const values = headerValues(request.headers, name);
        return matches === undefined ? values.length > 0 : values.some(matches);
      };
    },
  },
  Query: {
    fields: ['param', 'regexp'],
    build(args) {
      const name = args.string('param');
      const source = args.optionalString('regexp');
      const matches = source === undefined || source === '' ? undefined : fullMatch(source, args);
      return (request) => {
        if (request.query === '') return false;
        const values = new URLSearchParams(request.query).getAll(name);
        return matches === undefined ? values.length > 0 : values.some(matches);
      };
    },
  },
  Cookie: {
    fields: ['name', 'regexp'],
    build(args) {
      const name = args.string('name');
      const source = args.optionalString('regexp');
      const matches = source === undefined || source === '' ? undefined : fullMatch(source, args);
      return (request) => {
        const values = cookies(headerValues(request.headers, 'cookie').join('; ')).get(name) ?? [];
        return matches === undefined ? values.length > 0 : values.some(matches);
      };
    },
  },
  After: {
    fields: ['datetime'],
    build(args) {
      const at = parseTime(args.string('datetime'), args);
      return (request) => request.now > at;
    },
  },
  Before: {
    fields: ['datetime'],
    build(args) {
      const at = parseTime(args.string('datetime'), args);
      return (request) => request.now < at;
    },
  },
  Between: {
    fields: ['datetime1', 'datetime2'],
    build(args) {
      const from = parseTime(args.string('datetime1'), args);
      const to = parseTime(args.string('datetime2'), args);
      if (!(from < to)) throw args.error('datetime1 must be before datetime2');
      return (request) => request.now > from && request.now < to;
    },
  },
  RemoteAddr: {
    fields: ['sources'],
    build(args) {
      const sources = args.rest().length > 0 ? args.rest() : (args.list('sources') ?? []);
      if (sources.length === 0) throw args.error('at least one address or CIDR block is required');
      const list = new BlockList();
      for (const s of sources) addSource(list, s, args);
      return (request) => {
        const family = isIP(request.remoteAddress);
        return family !== 0 && list.check(request.remoteAddress, family === 4 ? 'ipv4' : 'ipv6');
      };
    },
  },
  Weight: {
    fields: ['group', 'weight'],
    build(args, context) {
      const group = args.string('group');
      const weight = args.integer('weight', 1, 0);
      context.addWeight(group, context.routeId, weight);
      return (request) => request.weightChoice(group) === context.routeId;
    },
  },
};

export const PREDICATE_NAMES: readonly string[] = Object.keys(FACTORIES);

export function buildPredicate(definition: ComponentDefinition, context: PredicateContext): Predicate {
  const factory = FACTORIES[definition.name];
  const where = `route ${context.routeId}: predicate ${definition.name}`;
  if (factory === undefined) {
    throw new Args(definition, [], where).error(`unknown predicate (known: ${PREDICATE_NAMES.join(', ')})`);
  }
  return factory.build(new Args(definition, factory.fields, where), context);
}
