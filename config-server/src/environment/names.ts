// Names, labels and profiles from request paths: Spring's checks, its `(_)` for `/`, and the splits of name parts.
import { ConfigServerError } from '../errors.ts';

// Spring's `(_)` stands for `/` in names and labels, so a label like `feature/x` fits in one path segment.
const SLASH_TOKEN = '(_)';
const PROFILE = /^[A-Za-z0-9](?:[A-Za-z0-9_.+@-]*[A-Za-z0-9])?$/;
// A file name's limit on common file systems: longer names, labels and profiles can name no file or directory.
export const MAX_NAME_LENGTH = 255;

function checkLength(value: string, what: string): void {
  if (value.length > MAX_NAME_LENGTH) {
    throw new ConfigServerError(
      'invalid_request',
      `Invalid Request: ${what} longer than ${MAX_NAME_LENGTH} characters`,
    );
  }
}

const NUL = ['\0', 'a NUL character'] as const;
// Backslashes and NUL would let a path escape the repository on some systems; Spring's checks predate that worry.
const FORBIDDEN_IN_PATH: readonly (readonly [text: string, shown: string])[] = [
  ['..', '".."'],
  ['#', '"#"'],
  ['\\', '"\\"'],
  NUL,
];
// With the u flag a paired surrogate reads as one code point, so only a half without its partner matches.
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `value` cannot be part of a path into a repository (`must not contain "#"`); undefined when it can. */
export function forbiddenInPath(value: string): string | undefined {
  const found = FORBIDDEN_IN_PATH.find(([text]) => value.includes(text));
  return found === undefined ? undefined : `must not contain ${found[1]}`;
}

/**
 * Why `value` cannot be stored as text alike in every database (`must not contain a NUL character`); undefined when
 * it can. PostgreSQL's text type cannot hold U+0000 at all, and a lone surrogate has no UTF-8 form (SQLite would
 * keep U+FFFD while the answer and history showed the original), so both are refused before anything is stored.
 */
export function forbiddenInText(value: string): string | undefined {
  if (value.includes(NUL[0])) return `must not contain ${NUL[1]}`;
  if (LONE_SURROGATE.test(value)) return 'must not contain a lone surrogate (half of a UTF-16 pair, \\ud800-\\udfff)';
  return undefined;
}

/**
 * Checks a name or label as Spring's EnvironmentController does (`..` and `#` refused, also when they arrive
 * percent-encoded, and no leading `(_)`), then turns `(_)` into `/`. The value is the already-decoded path segment.
 */
export function normalizeNameOrLabel(value: string, what: 'name' | 'label'): string {
  if (value.length === 0) throw new ConfigServerError('invalid_request', `Invalid Request: empty ${what}`);
  checkLength(value, what);
  if (value.startsWith(SLASH_TOKEN)) {
    throw new ConfigServerError('invalid_request', `Invalid Request: ${what} must not start with (_)`);
  }
  const normalized = value.split(SLASH_TOKEN).join('/');
  const problem = forbiddenInPath(normalized) ?? (normalized.startsWith('/') ? 'must not start with "/"' : undefined);
  if (problem !== undefined) throw new ConfigServerError('invalid_request', `Invalid Request: ${what} ${problem}`);
  return normalized;
}

/** `dev,docker` → `['dev','docker']`, each checked against Spring's profile pattern. */
export function parseProfiles(value: string): string[] {
  const profiles = value.split(',').map((p) => p.trim());
  for (const p of profiles) {
    checkLength(p, 'profile');
    if (!PROFILE.test(p)) {
      throw new ConfigServerError(
        'invalid_profile',
        `Invalid Request: profile ${JSON.stringify(p.slice(0, 64))} must be letters, digits and - _ . + @, starting and ending with a letter or digit`,
      );
    }
  }
  return profiles;
}

/** Parses the name part (`a` or `a,b`) into application names. */
export function parseApplications(value: string): string[] {
  const names = normalizeNameOrLabel(value, 'name').split(',');
  if (names.some((n) => n.trim() === '')) throw new ConfigServerError('invalid_request', 'Invalid Request: empty name');
  return names.map((n) => n.trim());
}

/**
 * Splits `product-composite-docker` into name and profiles at the LAST hyphen (`product-composite`, `docker`), as
 * Spring's `/{name}-{profiles}.yml` mapping does. Undefined when there is no hyphen to split at.
 */
export function splitNameAndProfiles(stem: string): { name: string; profiles: string } | undefined {
  const at = stem.lastIndexOf('-');
  if (at <= 0 || at === stem.length - 1) return undefined;
  return { name: stem.slice(0, at), profiles: stem.slice(at + 1) };
}

/** Decodes one raw path segment; malformed percent-encoding is a bad request, not a 500. */
export function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ConfigServerError('invalid_request', 'Invalid Request: malformed percent-encoding in the path');
  }
}
