// Spring's PathPattern syntax, compiled to one regular expression.

// `{name}` (one segment), `{name:regex}`, `{*rest}` (the rest of the path), `*` and `?` inside a segment, and a
// trailing `/**` that also matches the bare prefix.
import { compileLinear, MAX_PATTERN_LENGTH } from './safe-regex.ts';

export interface PathPattern {
  readonly source: string;
  /** The URI variables when the path matches, else undefined. */
  match(path: string): Record<string, string> | undefined;
}

/** Each glob or variable expands to a few characters of regex; the limit applies to the expansion. */
const GENERATED_MAX_LENGTH = 4 * MAX_PATTERN_LENGTH;

const SPECIAL = /[.*+?^${}()|[\]\\]/g;

function segmentRegex(segment: string, names: string[]): string {
  let out = '';
  let i = 0;
  while (i < segment.length) {
    const ch = segment[i];
    if (ch === '{') {
      const end = segment.indexOf('}', i);
      if (end === -1) throw new SyntaxError(`unclosed { in ${segment}`);
      const body = segment.slice(i + 1, end);
      const colon = body.indexOf(':');
      const name = colon === -1 ? body : body.slice(0, colon);
      if (!/^[A-Za-z_]\w*$/.test(name)) throw new SyntaxError(`invalid variable name {${body}}`);
      names.push(name);
      out += colon === -1 ? '([^/]+)' : `(${body.slice(colon + 1)})`;
      i = end + 1;
    } else if (ch === '*') {
      out += '[^/]*';
      i++;
    } else if (ch === '?') {
      out += '[^/]';
      i++;
    } else {
      out += (ch ?? '').replace(SPECIAL, '\\$&');
      i++;
    }
  }
  return out;
}

/**
 * A pattern without variables or globs (`/product/**`, `/health`) matched by string comparison: the common route
 * shape, which the linear-time regex engine otherwise runs on every request for every route tried.
 */
function literalPattern(source: string, matchTrailingSlash: boolean): PathPattern | undefined {
  const prefixOnly = source.endsWith('/**');
  const literal = prefixOnly ? source.slice(0, -3) : source;
  if (/[{}*?]/.test(literal)) return undefined;
  if (prefixOnly) {
    // `/a/**`: `/a` itself or anything under `/a/`; `/**`: every path.
    const under = `${literal}/`;
    return { source, match: (path) => (path === literal || path.startsWith(under) || literal === '' ? {} : undefined) };
  }
  // As the regex: the trailing slash is optional unless the pattern has one or matchTrailingSlash is off.
  const slashed = matchTrailingSlash && !source.endsWith('/') ? `${source}/` : source;
  return { source, match: (path) => (path === source || path === slashed ? {} : undefined) };
}

/**
 * Compiles a Spring path pattern. `matchTrailingSlash` (Spring's default true) lets `/red/{segment}` match `/red/1/`.
 *
 * @example
 * compilePathPattern('/red/{segment}').match('/red/blue'); // { segment: 'blue' }
 */
export function compilePathPattern(source: string, matchTrailingSlash = true): PathPattern {
  if (!source.startsWith('/')) throw new SyntaxError(`path pattern ${source} must start with /`);
  const names: string[] = [];
  const segments = source.split('/').slice(1);
  let regex = '';
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    const last = i === segments.length - 1;
    if (segment === '**') {
      if (!last) throw new SyntaxError(`** is only allowed at the end of ${source}`);
      regex += '(?:/.*)?';
    } else if (/^\{\*\w+\}$/.test(segment)) {
      if (!last) throw new SyntaxError(`{*…} is only allowed at the end of ${source}`);
      names.push(segment.slice(2, -1));
      regex += '(/.*)?';
    } else {
      regex += `/${segmentRegex(segment, names)}`;
    }
  }
  if (source === '/') regex = '/';
  const trailing = matchTrailingSlash && !source.endsWith('/') && !source.endsWith('**') ? '/?' : '';
  // `{name:regex}` is the route author's regex, and `a*b*c*` globs chain stars: both could backtrack on a long path.
  let compiled: RegExp;
  try {
    compiled = compileLinear(`^${regex}${trailing}$`, '', GENERATED_MAX_LENGTH);
  } catch (err) {
    throw new SyntaxError(`${source}: ${(err as Error).message}`);
  }
  // Compiled all the same above, so a literal pattern is refused exactly where the regex would be.
  const literal = literalPattern(source, matchTrailingSlash);
  if (literal !== undefined) return literal;
  return {
    source,
    match(path) {
      const m = compiled.exec(path);
      if (m === null) return undefined;
      const vars: Record<string, string> = {};
      names.forEach((name, i) => {
        const value = m[i + 1];
        // {*rest} of a bare prefix is "" in Spring, and "/" never appears alone as a captured value.
        vars[name] = value ?? '';
      });
      return vars;
    },
  };
}

/** Replaces `{name}` in a template with URI variables (SetPath, header values); unknown names stay as written. */
export function expandTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  if (!template.includes('{')) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] ?? whole);
}
