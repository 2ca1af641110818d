// XML building blocks matching what Eureka's XStream codec (XmlXStream: DomDriver + PrettyPrintWriter +
// XmlFriendlyNameCoder) reads and writes: element-name coding, text escaping and a small element tree.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { fail, ok } from './result.ts';
import type { WireResult } from './result.ts';

export interface XmlElement {
  /** Decoded name (XStream's `__` → `_`, `_-` → `$`, `_.XXXX` → char). */
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** Concatenated character data, untrimmed (XStream's getValue does not trim either). */
  readonly text: string;
}

// XStream's XmlFriendlyNameCoder defaults, which Eureka keeps (EurekaClientConfig dollar/escape replacements).
const DOLLAR_REPLACEMENT = '_-';
const ESCAPE_REPLACEMENT = '__';
const HEX_PREFIX = '_.';

function isNameStartChar(code: number): boolean {
  return (
    code === 0x3a ||
    (code >= 0x41 && code <= 0x5a) ||
    code === 0x5f ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0xc0 && code <= 0xd6) ||
    (code >= 0xd8 && code <= 0xf6) ||
    (code >= 0xf8 && code <= 0x2ff) ||
    (code >= 0x370 && code <= 0x37d) ||
    (code >= 0x37f && code <= 0x1fff) ||
    (code >= 0x200c && code <= 0x200d) ||
    (code >= 0x2070 && code <= 0x218f) ||
    (code >= 0x2c00 && code <= 0x2fef) ||
    (code >= 0x3001 && code <= 0xd7ff) ||
    (code >= 0xf900 && code <= 0xfdcf) ||
    (code >= 0xfdf0 && code <= 0xfffd)
  );
}

function isNameChar(code: number): boolean {
  return (
    isNameStartChar(code) ||
    code === 0x2d ||
    code === 0x2e ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0xb7 ||
    (code >= 0x300 && code <= 0x36f) ||
    (code >= 0x203f && code <= 0x2040)
  );
}

/**
 * Encodes a metadata key as an element name the way XStream does (`a_b` → `a__b`, `x$y` → `x_-y`, other
 * non-name characters → `_.` + 4 hex digits). XStream skips the hex step for printable ASCII when the name
 * has no `$`/`_`, writing broken XML for keys like "my key"; we always encode, so our XML stays well-formed.
 */
export function encodeXmlName(name: string): string {
  let plain = true;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code === 0x24 || code === 0x5f || !(i === 0 ? isNameStartChar(code) : isNameChar(code))) {
      plain = false;
      break;
    }
  }
  if (plain) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code === 0x24) out += DOLLAR_REPLACEMENT;
    else if (code === 0x5f) out += ESCAPE_REPLACEMENT;
    else if (i === 0 ? isNameStartChar(code) : isNameChar(code)) out += name[i] ?? '';
    else out += HEX_PREFIX + code.toString(16).padStart(4, '0');
  }
  return out;
}

/** Inverse of encodeXmlName, checking replacements in XStream's order (dollar, hex, escape). */
export function decodeXmlName(name: string): string {
  if (!name.includes('_')) return name;
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const char = name[i] ?? '';
    if (char === '_' && name.startsWith(DOLLAR_REPLACEMENT, i)) {
      out += '$';
      i += DOLLAR_REPLACEMENT.length - 1;
    } else if (char === '_' && name.startsWith(HEX_PREFIX, i)) {
      const hex = name.slice(i + HEX_PREFIX.length, i + HEX_PREFIX.length + 4);
      if (/^[0-9a-fA-F]{4}$/.test(hex)) {
        out += String.fromCharCode(parseInt(hex, 16));
        i += HEX_PREFIX.length + 3;
      } else {
        out += char;
      }
    } else if (char === '_' && name.startsWith(ESCAPE_REPLACEMENT, i)) {
      out += '_';
      i += ESCAPE_REPLACEMENT.length - 1;
    } else {
      out += char;
    }
  }
  return out;
}

/**
 * PrettyPrintWriter's escaping: `& < > " ' CR` as entities, C1 controls as `&#x…;`, tab and line feed kept literally
 * in text but escaped in attributes. (Unlike XStream we always escape `&`: XStream passes an existing
 * `&amp;`/`&lt;`… through unescaped, which silently changes such values.) Unlike XStream, what XML 1.0 cannot carry
 * at all (other C0 controls, lone surrogates, U+FFFE/U+FFFF) becomes U+FFFD: XStream's `&#x0;` makes Xerces refuse
 * the whole document. The registry refuses such texts on the way in; this keeps the document readable regardless.
 */
export function escapeXml(value: string, inAttribute = false): string {
  // Most values (URLs, ids, ports) need nothing; one regex scan is cheaper than the character loop below.
  if (!NEEDS_ESCAPE.test(value)) return value;
  let out = '';
  let last = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    let replacement: string | undefined;
    if (code < 0x40) {
      if (code === 0x26) replacement = '&amp;';
      else if (code === 0x3c) replacement = '&lt;';
      else if (code === 0x3e) replacement = '&gt;';
      else if (code === 0x22) replacement = '&quot;';
      else if (code === 0x27) replacement = '&apos;';
      else if (code === 0x0d) replacement = '&#xd;';
      else if (code === 0x09 || code === 0x0a) replacement = inAttribute ? charRef(code) : undefined;
      else if (code < 0x20) replacement = UNREPRESENTABLE;
    } else if (code >= 0x7f && code <= 0x9f) {
      replacement = charRef(code);
    } else if (code >= 0xd800 && code <= 0xdfff) {
      const next = value.charCodeAt(i + 1);
      // A pair is one character XML carries; only a lone half is replaced.
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else replacement = UNREPRESENTABLE;
    } else if (code === 0xfffe || code === 0xffff) {
      replacement = UNREPRESENTABLE;
    }
    if (replacement !== undefined) {
      out += value.slice(last, i) + replacement;
      last = i + 1;
    }
  }
  return last === 0 ? value : out + value.slice(last);
}

// \p{Cc} is exactly Java's Character.isISOControl range (U+0000–U+001F, U+007F–U+009F); \p{Cs} a lone surrogate.
const NEEDS_ESCAPE = /[&<>"'\p{Cc}\uFFFE\uFFFF]|\p{Cs}/u;
const UNREPRESENTABLE = '\uFFFD';

function charRef(code: number): string {
  return `&#x${code.toString(16)};`;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Enables numeric character references (&#xd;) that PrettyPrintWriter emits; named HTML entities come along.
  htmlEntities: true,
});

const DOCTYPE = /<!DOCTYPE/i;

/** Parses a document with exactly one root element; malformed input is an error value, never an exception. */
export function parseXmlDocument(body: string): WireResult<XmlElement> {
  // Registration bodies never need a DTD; refusing one rules out entity-expansion tricks outright.
  if (DOCTYPE.test(body)) return fail('malformed_body', 'Malformed XML body: DOCTYPE is not allowed');
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    return fail('malformed_body', `Malformed XML body: ${valid.err.msg} (line ${valid.err.line})`);
  }
  const reference = refusedReference(body);
  if (reference !== undefined) {
    return fail('malformed_body', `Malformed XML body: the character reference ${reference} is not allowed in XML`);
  }
  let nodes: unknown;
  try {
    nodes = parser.parse(body);
  } catch (error) {
    return fail('malformed_body', `Malformed XML body: ${error instanceof Error ? error.message : 'unreadable'}`);
  }
  const roots = toElements(nodes).elements;
  const root = roots[0];
  if (root === undefined || roots.length !== 1) {
    return fail('malformed_body', 'Malformed XML body: expected exactly one root element');
  }
  return ok(root);
}

const CHAR_REFERENCE = /&#(x[0-9a-fA-F]+|[0-9]+);/g;
// Where `&#…;` is text rather than a reference. The validator has checked that each of these is closed.
const LITERAL_SECTIONS = /<!\[CDATA\[[\s\S]*?\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;

/**
 * The first character reference to a code point XML 1.0 does not allow (`&#0;`, `&#xD800;`, `&#x110000;`), which a
 * conforming parser refuses as a fatal error; the parser here would drop it or keep its text, storing what was not
 * sent. Undefined when there is none.
 */
function refusedReference(body: string): string | undefined {
  if (!body.includes('&#')) return undefined;
  for (const match of body.replace(LITERAL_SECTIONS, '').matchAll(CHAR_REFERENCE)) {
    const digits = match[1] ?? '';
    const code = digits.startsWith('x') ? parseInt(digits.slice(1), 16) : parseInt(digits, 10);
    if (!isXmlChar(code)) return match[0].length > 16 ? `${match[0].slice(0, 15)}…` : match[0];
  }
  return undefined;
}

/** XML 1.0's Char production. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// fast-xml-parser's preserveOrder shape: [{ tag: [children…], ':@': { attr: value } }, { '#text': 'x' }, …]
function toElements(nodes: unknown): { elements: XmlElement[]; text: string } {
  const elements: XmlElement[] = [];
  let text = '';
  if (!Array.isArray(nodes)) return { elements, text };
  for (const node of nodes as unknown[]) {
    if (!isRecord(node)) continue;
    for (const key of Object.keys(node)) {
      const content = node[key];
      if (key === '#text') {
        if (typeof content === 'string' || typeof content === 'number') text += String(content);
      } else if (key !== ':@') {
        const inner = toElements(content);
        elements.push({
          name: decodeXmlName(key),
          attributes: attributesOf(node[':@']),
          children: inner.elements,
          text: inner.text,
        });
      }
    }
  }
  return { elements, text };
}

function attributesOf(value: unknown): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (!isRecord(value)) return attributes;
  for (const key of Object.keys(value)) {
    const attribute = value[key];
    if (typeof attribute === 'string' && key !== '__proto__') attributes[key] = attribute;
  }
  return attributes;
}
