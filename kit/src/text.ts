// Text a server keeps and serves back as JSON: no U+0000, which PostgreSQL text and jsonb cannot hold, and no lone
// surrogate, which is no Unicode text (JSON.stringify writes it as an escape strict parsers such as jq refuse).

/** In a `u` regex a surrogate pair is one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether `value` can be stored and read back as it is, on SQLite and PostgreSQL alike. */
export function storableText(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

/** Why `value` cannot be stored, for a 400's message; undefined when it can. */
export function unstorableReason(value: string): string | undefined {
  if (value.includes('\u0000')) return 'contains a NUL character (U+0000)';
  if (LONE_SURROGATE.test(value)) return 'contains a lone surrogate (not Unicode text)';
  return undefined;
}

/**
 * The first string in a JSON-like value (member names included) that cannot be stored, with why; undefined when every
 * one can. Iterative: payloads come from requests.
 */
export function firstUnstorable(root: unknown): string | undefined {
  const pending: unknown[] = [root];
  for (let value = pending.pop(); value !== undefined || pending.length > 0; value = pending.pop()) {
    if (typeof value === 'string') {
      const reason = unstorableReason(value);
      if (reason !== undefined) return reason;
    } else if (typeof value === 'object' && value !== null) {
      const children: unknown[] = Array.isArray(value) ? (value as unknown[]) : Object.entries(value).flat();
      pending.push(...children);
    }
  }
  return undefined;
}
