// Reads client metadata (or a user) from a JSON request body within bounds, refusing other media types and oversize input.
import type { Context } from 'hono';
import type { KitEnv } from '@trellis/kit';
import { AuthServerError } from '../errors.ts';

/**
 * Bounds of client metadata: far above any real registration (a JWKS is three levels deep, a redirect URI a few
 * hundred characters), low enough that no request makes the server walk, store or echo back something enormous.
 */
export const METADATA_LIMITS = { depth: 8, stringLength: 2048, listLength: 100 } as const;

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The media type alone, without parameters: `application/json; charset=utf-8` is `application/json`. */
function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Refuses a value deeper, longer or wider than {@link METADATA_LIMITS}. Iterative, so a body nested a hundred
 * thousand levels (well within the body limit) costs one pass and no stack.
 */
function checkBounds(root: unknown, fail: (message: string) => never): void {
  const pending: { value: unknown; depth: number }[] = [{ value: root, depth: 1 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value, depth } = item;
    if (typeof value === 'string') {
      // Counted in characters (code points), as the document's maxLength counts them, not UTF-16 units.
      if (value.length > METADATA_LIMITS.stringLength && [...value].length > METADATA_LIMITS.stringLength) {
        fail(`a value is longer than ${METADATA_LIMITS.stringLength} characters`);
      }
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > METADATA_LIMITS.depth) fail(`the body is nested deeper than ${METADATA_LIMITS.depth} levels`);
    if (Array.isArray(value)) {
      if (value.length > METADATA_LIMITS.listLength) fail(`a list has more than ${METADATA_LIMITS.listLength} entries`);
    } else if (Object.keys(value).length > METADATA_LIMITS.listLength) {
      fail(`an object has more than ${METADATA_LIMITS.listLength} members`);
    }
    // Member names count as strings too: a long name is as costly as a long value.
    const children = Array.isArray(value) ? (value as unknown[]) : Object.entries(value).flat();
    for (const child of children) pending.push({ value: child, depth: depth + 1 });
  }
}

/**
 * The request body as a JSON object, for the routes that take client metadata (admin API, RFC 7591/7592). Anything
 * else is refused with the reason, before any stored state is touched: another media type with 415
 * `unsupported_media_type`; bytes that are not UTF-8, text that is not JSON, JSON that is not an object or exceeds
 * {@link METADATA_LIMITS} with 400 `invalid_client_metadata`. Bodies over the service's limit never get here (413).
 */
export function clientMetadataBody(c: Context<KitEnv>): Promise<Record<string, unknown>> {
  return jsonObjectBody(c, 'the client metadata', 'invalid_client_metadata');
}

/** The same for a user of the admin API: refusals are 400 `invalid_user`. */
export function userBody(c: Context<KitEnv>): Promise<Record<string, unknown>> {
  return jsonObjectBody(c, 'the user', 'invalid_user');
}

async function jsonObjectBody(
  c: Context<KitEnv>,
  what: string,
  code: 'invalid_client_metadata' | 'invalid_user',
): Promise<Record<string, unknown>> {
  const fail = (message: string): never => {
    throw new AuthServerError(code, message);
  };
  if (mediaType(c.req.header('content-type')) !== 'application/json') {
    throw new AuthServerError('unsupported_media_type', `send ${what} as application/json`);
  }
  // The body is read as sent: a compressed one would only fail later as "not UTF-8".
  const encoding = c.req.header('content-encoding')?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    throw new AuthServerError('unsupported_media_type', `send ${what} without a content-encoding`);
  }
  let text = '';
  try {
    text = UTF8.decode(await c.req.arrayBuffer());
  } catch {
    fail('the body is not UTF-8');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    fail('the body is not valid JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail(`send ${what} as a JSON object`);
  checkBounds(body, fail);
  return body as Record<string, unknown>;
}

/**
 * Refuses a member of `body` not in `known` (400 `code`, naming it): the admin API is Trellis's own, so a misspelt
 * member (`redirect_uri`) is an error to show, not a setting to drop silently. RFC 7591 registration ignores unknown
 * members instead, as the RFC says.
 */
export function onlyMembers(
  body: Record<string, unknown>,
  known: readonly string[],
  code: 'invalid_client_metadata' | 'invalid_user',
): void {
  const unknown = Object.keys(body).find((name) => !known.includes(name));
  if (unknown !== undefined) {
    const shown = JSON.stringify(unknown.length > 64 ? `${unknown.slice(0, 64)}…` : unknown);
    throw new AuthServerError(code, `unknown member ${shown}; the members are ${known.join(', ')}`);
  }
}
