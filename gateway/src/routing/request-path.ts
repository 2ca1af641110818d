// The path the gateway decides on and forwards: RFC 3986's normal form, or a refusal where it is ambiguous.

// The path the gateway decides on is the path the upstream receives. Upstreams decode and normalize paths in their
// own ways (Tomcat and Spring decode %2E and drop `..` and `;params`, node frameworks decode %2F or `\`, nginx merges
// `//`), so a path the gateway matched as `/public/%2e%2e/admin` would reach them as `/admin`. The gateway therefore
// normalizes per RFC 3986 (§6.2.2: unreserved percent-encodings decoded, hex in upper case; §5.2.4: dot segments
// removed) before any predicate sees the path, forwards exactly that, and refuses what it cannot make unambiguous,
// as Spring Security's StrictHttpFirewall does. Pure functions: no HTTP here.

/** Why a path was refused; the caller turns it into a 400 with this text. */
export class PathRefusal extends Error {}

/**
 * Characters that send a path down the careful route: `%`, `\`, `;`, `#`, `.` after `/`, `//`, and anything outside
 * printable ASCII. A path without them is already normal, and the test is one regular expression per request.
 */
// eslint-disable-next-line no-control-regex -- control characters are among what it looks for
const NEEDS_WORK = /[%\\;#\x00-\x20\x7f-\uffff]|\/\.|\/\//;

/** RFC 3986 unreserved characters: the only ones whose percent-encoding means the same as the character itself. */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Percent-encoded bytes refused outright: `/` and `\` (a separator the upstream may decode into a new segment), `%`
 * (double encoding: `%252e` decodes to `%2e`, then to `.` at the next hop), `;` (path parameters Tomcat strips), and
 * control characters (NUL ends C strings; CR and LF split headers).
 */
function refusedByte(code: number): string | undefined {
  if (code === 0x2f) return 'an encoded slash (%2F)';
  if (code === 0x5c) return 'an encoded backslash (%5C)';
  if (code === 0x25) return 'an encoded percent sign (%25, double encoding)';
  if (code === 0x3b) return 'an encoded semicolon (%3B)';
  if (code < 0x20 || code === 0x7f) return 'an encoded control character';
  return undefined;
}

/** One segment with unreserved encodings decoded and the others in upper case; throws PathRefusal. */
function normalizeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  let out = '';
  let encodedHigh = false;
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] ?? '';
    if (ch !== '%') {
      out += ch;
      continue;
    }
    const hex = segment.slice(i + 1, i + 3);
    if (!HEX.test(hex)) throw new PathRefusal('the path has a % not followed by two hex digits');
    const code = parseInt(hex, 16);
    const refused = refusedByte(code);
    if (refused !== undefined) throw new PathRefusal(`the path has ${refused}`);
    const decoded = String.fromCharCode(code);
    if (UNRESERVED.test(decoded)) out += decoded;
    else {
      out += `%${hex.toUpperCase()}`;
      if (code >= 0x80) encodedHigh = true;
    }
    i += 2;
  }
  // Encoded bytes above ASCII must be UTF-8: an overlong form (`%C0%AE` for `.`) is a dot to some old decoders.
  if (encodedHigh) {
    try {
      decodeURIComponent(out);
    } catch {
      throw new PathRefusal('the path has percent-encoded bytes that are not UTF-8');
    }
  }
  return out;
}

/**
 * The normal form of a request path (without the query): unreserved percent-encodings decoded, dot segments removed,
 * runs of `/` merged (as nginx and Tomcat do, so the gateway sees the segments they will). Throws PathRefusal for
 * what stays ambiguous: `\`, `;`, `#`, characters outside printable ASCII, encoded `/`, `\`, `%`, `;` or control
 * characters, malformed or non-UTF-8 encodings, and `..` that climbs above the root.
 *
 * @example
 * normalizePath('/public/%2e%2e/admin/x'); // '/admin/x'
 */
export function normalizePath(path: string): string {
  if (!NEEDS_WORK.test(path)) return path;
  if (!path.startsWith('/')) throw new PathRefusal('the path must start with /');
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code === 0x5c) throw new PathRefusal('the path has a backslash');
    if (code === 0x3b) throw new PathRefusal('the path has a semicolon (path parameters are refused)');
    if (code === 0x23) throw new PathRefusal('the request target has a fragment (#)');
    if (code <= 0x20 || code >= 0x7f) throw new PathRefusal('the path has a character outside printable ASCII');
  }
  const segments = path.slice(1).split('/');
  const kept: string[] = [];
  const last = segments.length - 1;
  for (let i = 0; i <= last; i++) {
    const segment = normalizeSegment(segments[i] ?? '');
    if (segment === '.' || segment === '..') {
      if (segment === '..') {
        if (kept.length === 0) throw new PathRefusal('the path climbs above the root with ..');
        kept.pop();
      }
      // `/a/..` and `/a/.` name the directory: the trailing slash stays (RFC 3986 §5.2.4).
      if (i === last) kept.push('');
      continue;
    }
    // An empty segment from `//` is merged away; the last one (a trailing slash) is kept.
    if (segment === '' && i !== last) continue;
    kept.push(segment);
  }
  return `/${kept.join('/')}`;
}

/**
 * The normal form of a path a filter produced (RewritePath, StripPrefix, SetPath, PrefixPath). The predicates decided
 * on the normal request path, so a rewrite that brings back a dot segment, an empty segment (`//`) or an ambiguous
 * encoding is refused rather than normalized: normalizing it would send the request where no predicate looked.
 */
export function normalizeRewrittenPath(path: string): string {
  if (!path.startsWith('/')) throw new PathRefusal('the path does not start with /');
  if (!NEEDS_WORK.test(path)) return path;
  const normal = normalizePath(path);
  const segments = path.slice(1).split('/');
  const last = segments.length - 1;
  for (let i = 0; i <= last; i++) {
    const segment = normalizeSegment(segments[i] ?? '');
    if (segment === '.' || segment === '..') throw new PathRefusal(`the path has a dot segment (${segments[i]})`);
    if (segment === '' && i !== last) throw new PathRefusal('the path has an empty segment (//)');
  }
  return normal;
}

/** `path?query`, or the path alone when the query is empty. */
export function withQuery(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}
