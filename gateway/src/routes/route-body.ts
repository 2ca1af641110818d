// Reads the route API's JSON body: UTF-8 only, bounded nesting, no key twice in one object, no NUL or lone surrogate.
import { firstUnstorable } from '@trellis/kit';
import { GatewayError } from '../errors.ts';

/** Deepest JSON nesting a route definition may have: real ones nest 4 levels; deep ones only cost stack. */
export const MAX_JSON_DEPTH = 32;

/** Fatal: a body that is not UTF-8 is refused, not read with U+FFFD in place of its bytes and stored so. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * How deep a JSON text nests, stopping once past `max` (so a body of 60,000 `[` costs one pass, not a parse and the
 * recursion over its result that would overflow the stack).
 */
function nestingOver(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c) i++;
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

/**
 * The first member name that occurs twice in one object of `text`, which must be valid JSON; undefined when none
 * does. JSON.parse keeps the last one silently, so `{"filters":["TokenCheck=…"],"filters":[]}` would store a route
 * without the filter its reader sees. Names are compared unescaped (`"a"` and `"\u0061"` are one name).
 */
function duplicateKey(text: string): string | undefined {
  /** One entry per open container: the names seen so far in an object, undefined for an array. */
  const open: (Set<string> | undefined)[] = [];
  let nameNext = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      let end = i + 1;
      while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1;
      const names = open.at(-1);
      if (nameNext && names !== undefined) {
        const name = JSON.parse(text.slice(i, end + 1)) as string;
        if (names.has(name)) return name;
        names.add(name);
      }
      nameNext = false;
      i = end;
    } else if (ch === 0x7b) {
      open.push(new Set());
      nameNext = true;
    } else if (ch === 0x5b) {
      open.push(undefined);
      nameNext = false;
    } else if (ch === 0x7d || ch === 0x5d) {
      open.pop();
      nameNext = false;
    } else if (ch === 0x2c) {
      nameNext = open.at(-1) !== undefined;
    }
  }
  return undefined;
}

/** A member name for a message: quoted, and cut at 64 characters. */
function shown(name: string): string {
  const chars = [...name];
  return JSON.stringify(chars.length > 64 ? `${chars.slice(0, 64).join('')}…` : name);
}

/**
 * The parsed body of a route definition, or a 400 `invalid_route` saying why not, before anything is stored. The
 * kit's body limit (the smaller of --max-request-size and 64 KiB) has applied by the time the bytes are here.
 */
export function readRouteBody(bytes: ArrayBuffer): unknown {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new GatewayError('invalid_route', 'the body is not UTF-8');
  }
  if (nestingOver(text, MAX_JSON_DEPTH)) {
    throw new GatewayError('invalid_route', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_route', 'the body must be a JSON route definition {uri, predicates, filters}');
  }
  // Checked before the definition is read: a NUL or lone surrogate in metadata (or an ignored key) would be kept and
  // listed back as an escape that strict JSON readers (jq) refuse, failing the whole route list.
  const unstorable = firstUnstorable(body);
  if (unstorable !== undefined) throw new GatewayError('invalid_route', `a value ${unstorable}`);
  const twice = duplicateKey(text);
  if (twice !== undefined) {
    throw new GatewayError(
      'invalid_route',
      `the key ${shown(twice)} occurs twice in one object: send each key once (JSON readers differ on which one counts)`,
    );
  }
  return body;
}
