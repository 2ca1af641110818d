// HTML built with a tagged template that escapes every interpolated value: registered instances are untrusted input
// (any client can register an app, id or URL containing markup), so nothing reaches the page unescaped unless it is
// markup this module built itself.

/** Markup that is already safe: only `html` and `raw` make one. */
export class SafeHtml {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

export type HtmlValue = string | number | SafeHtml | readonly SafeHtml[] | undefined;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and for quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch);
}

/**
 * @example html`<td>${instance.app}</td>` // the app name escaped; SafeHtml values and arrays of them kept as built
 */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** Trusted constant markup (the page's own script and style). Never pass it anything built from a request. */
export function raw(text: string): SafeHtml {
  return new SafeHtml(text);
}

function render(value: HtmlValue): string {
  if (value === undefined) return '';
  if (value instanceof SafeHtml) return value.toString();
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return escapeHtml(value);
  return value.map((v) => v.toString()).join('');
}

/**
 * The href for an instance's link, or undefined: only absolute http(s) URLs, so a registered `javascript:` or
 * `data:` URL is shown as text instead of becoming a link that runs on the dashboard's origin.
 */
export function safeHref(url: string | null | undefined): string | undefined {
  if (url === null || url === undefined || url === '') return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}
