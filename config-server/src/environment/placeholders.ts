// `${…}` placeholders in renderings and plain files, resolved as Spring's PropertyPlaceholderHelper does.
import type { PropertyValue } from './types.ts';

// The rules of Spring's PropertyPlaceholderHelper as the config server uses it: `${key}` and `${key:default}`,
// nested (`${a.${b}}`), resolved recursively, unresolvable ones left as written, `\${` escaping a placeholder.

const PREFIX = '${';
const SUFFIX = '}';
const SEPARATOR = ':';
const ESCAPE = '\\';
const MAX_DEPTH = 32;

function findEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start + PREFIX.length; i < text.length; i++) {
    if (text.startsWith(PREFIX, i)) {
      depth++;
      i += PREFIX.length - 1;
    } else if (text[i] === SUFFIX) {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

/**
 * Resolves `${…}` in `text` against `lookup`. A circular reference is left unresolved rather than failing the
 * whole rendering.
 *
 * @example
 * resolvePlaceholders('http://${host:localhost}:${port}', (k) => ({ port: '80' })[k]); // 'http://localhost:80'
 */
export function resolvePlaceholders(
  text: string,
  lookup: (key: string) => PropertyValue | undefined,
  visiting: ReadonlySet<string> = new Set(),
  depth = 0,
): string {
  if (!text.includes(PREFIX) || depth > MAX_DEPTH) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const start = text.indexOf(PREFIX, i);
    if (start === -1) {
      out += text.slice(i);
      break;
    }
    if (start > 0 && text[start - 1] === ESCAPE) {
      out += text.slice(i, start - 1) + PREFIX;
      i = start + PREFIX.length;
      continue;
    }
    const end = findEnd(text, start);
    if (end === -1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, start);
    const inner = resolvePlaceholders(text.slice(start + PREFIX.length, end), lookup, visiting, depth + 1);
    const sep = inner.indexOf(SEPARATOR);
    const key = inner;
    let value: string | undefined;
    if (!visiting.has(key)) {
      const found = lookup(key);
      if (found !== undefined) {
        value = resolvePlaceholders(String(found), lookup, new Set([...visiting, key]), depth + 1);
      } else if (sep !== -1) {
        const shortKey = inner.slice(0, sep);
        const shortFound = visiting.has(shortKey) ? undefined : lookup(shortKey);
        value =
          shortFound !== undefined
            ? resolvePlaceholders(String(shortFound), lookup, new Set([...visiting, shortKey]), depth + 1)
            : resolvePlaceholders(inner.slice(sep + 1), lookup, visiting, depth + 1);
      }
    }
    out += value ?? text.slice(start, end + 1);
    i = end + 1;
  }
  return out;
}

/** Resolves every string value of a merged map against the map itself. Numbers and booleans pass through. */
export function resolveAll(merged: ReadonlyMap<string, PropertyValue>): Map<string, PropertyValue> {
  const lookup = (k: string): PropertyValue | undefined => merged.get(k);
  const out = new Map<string, PropertyValue>();
  for (const [k, v] of merged) out.set(k, typeof v === 'string' ? resolvePlaceholders(v, lookup) : v);
  return out;
}
