// `.properties` config files, read by java.util.Properties' rules into documents.
import { ConfigFileError, type ConfigDocument } from './documents.ts';

// java.util.Properties#load rules: natural lines end at \n, \r or \r\n; a line ending in an odd number of backslashes
// continues on the next one (whose leading white space is dropped); `#` or `!` starts a comment; the key ends at the
// first unescaped `=`, `:` or white space.

const WHITESPACE = new Set([' ', '\t', '\f']);

interface LogicalLine {
  readonly text: string;
  readonly line: number;
  readonly column: number;
}

function logicalLines(text: string): LogicalLine[] {
  const natural = text.split(/\r\n|\r|\n/);
  const out: LogicalLine[] = [];
  for (let i = 0; i < natural.length; i++) {
    const first = natural[i] ?? '';
    let start = 0;
    while (start < first.length && WHITESPACE.has(first[start] ?? '')) start++;
    if (start === first.length) continue;
    const lead = first[start];
    // Spring Boot's multi-document separator in .properties files.
    if (lead === '#' || lead === '!') {
      if (/^[#!]---\s*$/.test(first)) out.push({ text: '\0---', line: i + 1, column: 1 });
      continue;
    }
    const lineNo = i + 1;
    let current = first.slice(start);
    while (endsWithOddBackslashes(current)) {
      current = current.slice(0, -1);
      i++;
      if (i >= natural.length) break;
      current += (natural[i] ?? '').replace(/^[ \t\f]+/, '');
    }
    out.push({ text: current, line: lineNo, column: start + 1 });
  }
  return out;
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function unescape(s: string, line: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = s[++i];
    if (next === undefined) break;
    switch (next) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        const hex = s.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new ConfigFileError(`line ${line}: malformed \\uxxxx encoding`);
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        out += next;
    }
  }
  return out;
}

function splitKeyValue(text: string): { key: string; value: string } {
  let i = 0;
  let separatorFound = false;
  for (; i < text.length; i++) {
    const c = text[i] ?? '';
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '=' || c === ':') {
      separatorFound = true;
      break;
    }
    if (WHITESPACE.has(c)) break;
  }
  const key = text.slice(0, i);
  let j = separatorFound ? i + 1 : i;
  while (j < text.length && WHITESPACE.has(text[j] ?? '')) j++;
  if (!separatorFound && (text[j] === '=' || text[j] === ':')) {
    j++;
    while (j < text.length && WHITESPACE.has(text[j] ?? '')) j++;
  }
  return { key, value: text.slice(j) };
}

/**
 * Parses `.properties` text by java.util.Properties' rules (escapes, continuation lines, `=`/`:`/space separators).
 * Documents are split at `#---` lines as Spring Boot does. Throws {@link ConfigFileError} for a bad `\u` escape.
 *
 * @example
 * parseProperties('a.b = 1\nc: x\\\n  y')[0]?.values; // Map { 'a.b' => '1', 'c' => 'xy' }
 */
export function parseProperties(text: string): ConfigDocument[] {
  const docs: ConfigDocument[] = [];
  let values = new Map<string, string>();
  let positions = new Map<string, string>();
  for (const l of logicalLines(text.startsWith('\uFEFF') ? text.slice(1) : text)) {
    if (l.text === '\0---') {
      docs.push({ values, positions });
      values = new Map();
      positions = new Map();
      continue;
    }
    const { key, value } = splitKeyValue(l.text);
    const k = unescape(key, l.line);
    values.set(k, unescape(value, l.line));
    positions.set(k, `${l.line}:${l.column}`);
  }
  docs.push({ values, positions });
  return docs.filter((d) => d.values.size > 0);
}
