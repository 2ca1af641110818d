// The text around a Spring cipher payload: `{cipher}`, then `{name:value}` pairs, then an optional `{plain}`.
// `{cipher}` marks an encrypted property value, the pairs choose the key (Spring's EnvironmentPrefixHelper), and
// `{plain}` ends the pairs so that text which itself starts with `{…:…}` can be encrypted.
//
// Spring reads the pairs with two different scans (a split on "}" for the keys, a regex for the payload) that disagree
// on malformed input; we read one run of leading pairs, which is what both agree on for every value Spring writes.

/** Marks an encrypted property value: `password: '{cipher}AQB…'`. */
export const CIPHER_MARKER = '{cipher}';
/** Ends the prefix pairs; everything after it is payload, taken literally. */
export const PLAIN_ESCAPE = '{plain}';

// Spring fills these from the request (application name and profiles) and strips them from echoed prefixes.
const ENVIRONMENT_PREFIXES: ReadonlySet<string> = new Set(['name', 'profiles']);

// A name never holds ':', '{' or '}'; a value runs to the first '}' and may be empty.
const PAIR = /^\{([^{}:]+):([^}]*)\}/;

export interface ParsedCipherValue {
  /** `{key:alias}`: which installed key to use. Absent when missing or empty. */
  readonly keyAlias?: string;
  /** `{secret:…}`: in Spring, the keystore entry password. Absent when missing or empty. Never log it. */
  readonly secret?: string;
  /** Every pair in order of appearance (a repeated name keeps its last value), including `key` and `secret`. */
  readonly prefixes: ReadonlyMap<string, string>;
  /** The bare ciphertext (or, for text to encrypt, the plaintext). */
  readonly payload: string;
}

/** True when a property value is Spring-encrypted and must be decrypted before it is served. */
export function isCipherValue(value: string): boolean {
  return value.startsWith(CIPHER_MARKER);
}

/**
 * Splits a property value (`{cipher}{key:k1}{secret:s}AQB…`) or a `/decrypt` body (`{key:k1}AQB…`) into the key
 * selection and the bare payload. A leading `{cipher}` is removed if present.
 *
 * @example
 * parseCipherValue('{cipher}{key:2024}AQB…'); // { keyAlias: '2024', prefixes: Map { 'key' => '2024' }, payload: 'AQB…' }
 */
export function parseCipherValue(value: string): ParsedCipherValue {
  return parseCipherPrefixes(isCipherValue(value) ? value.slice(CIPHER_MARKER.length) : value);
}

/**
 * Like {@link parseCipherValue} but without the `{cipher}` marker, for `/encrypt` bodies where a leading `{cipher}`
 * would be part of the plaintext.
 */
export function parseCipherPrefixes(text: string): ParsedCipherValue {
  const prefixes = new Map<string, string>();
  let rest = text;
  for (;;) {
    if (rest.startsWith(PLAIN_ESCAPE)) {
      rest = rest.slice(PLAIN_ESCAPE.length);
      break;
    }
    const match = PAIR.exec(rest);
    if (match === null) break;
    prefixes.set(match[1] ?? '', match[2] ?? '');
    rest = rest.slice(match[0].length);
  }
  const keyAlias = nonEmpty(prefixes.get('key'));
  const secret = nonEmpty(prefixes.get('secret'));
  return {
    ...(keyAlias === undefined ? {} : { keyAlias }),
    ...(secret === undefined ? {} : { secret }),
    prefixes,
    payload: rest,
  };
}

/**
 * Writes pairs back in front of a payload, as Spring's `/encrypt` echoes them (`name` and `profiles` dropped).
 *
 * @example
 * formatCipherPrefixes(new Map([['key', 'k1']]), 'AQB…'); // '{key:k1}AQB…'
 */
export function formatCipherPrefixes(prefixes: ReadonlyMap<string, string>, payload: string): string {
  let out = '';
  for (const [name, value] of prefixes) {
    if (!ENVIRONMENT_PREFIXES.has(name)) out += `{${name}:${value}}`;
  }
  return out + payload;
}

// Spring parses `{key:}` as a pair named "key:" with no value, i.e. as no key selection at all.
function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.length === 0 ? undefined : value;
}
