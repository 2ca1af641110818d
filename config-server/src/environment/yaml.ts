// YAML config files, read as SnakeYAML reads them and flattened to Spring's property keys.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import { ConfigFileError, type ConfigDocument } from './documents.ts';
import type { PropertyValue } from './types.ts';

// Spring reads YAML with SnakeYAML (YAML 1.1: `yes`/`on` are booleans, `<<` merges), then flattens it the way
// YamlProcessor#buildFlattenedMap does: `a.b.c` for maps, `a[0]` for lists, null as "".

function scalar(value: unknown): PropertyValue {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  // Binary and sets are rare in configuration; a JSON text is at least readable where String() would say [object].
  return JSON.stringify(value) ?? '';
}

function join(path: string, key: string): string {
  if (path === '') return key;
  return key.startsWith('[') ? `${path}${key}` : `${path}.${key}`;
}

// SnakeYAML's 1.1 booleans are yes/no/on/off/true/false; the `yaml` package's 1.1 schema also reads y and n.
const SINGLE_LETTER_BOOLEAN = /^[yYnN]$/;

interface Walk {
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  readonly values: Map<string, PropertyValue>;
  readonly positions: Map<string, string>;
  depth: number;
}

function keyText(key: unknown): string {
  // Keys keep their source text: SnakeYAML-in-Boot leaves `on:` or `1.0:` as written, not as true or 1.
  if (isScalar(key)) return typeof key.source === 'string' ? key.source : String(key.value);
  return String(key);
}

function walk(w: Walk, node: unknown, path: string): void {
  if (++w.depth > 10_000) throw new ConfigFileError('too deeply nested or too many aliases');
  if (isAlias(node)) {
    walk(w, node.resolve(w.doc), path);
  } else if (isMap(node)) {
    // Merged maps first, so the map's own keys override them (YAML merge-key semantics).
    for (const pair of node.items) {
      if (isPair(pair) && keyText(pair.key) === '<<') {
        const from = isSeq(pair.value) ? pair.value.items : [pair.value];
        for (const source of from) walk(w, source, path);
      }
    }
    for (const pair of node.items) {
      if (!isPair(pair) || keyText(pair.key) === '<<') continue;
      walk(w, pair.value, join(path, keyText(pair.key)));
    }
  } else if (isSeq(node)) {
    if (node.items.length === 0 && path !== '') w.values.set(path, '');
    node.items.forEach((item, i) => walk(w, item, `${path}[${i}]`));
  } else if (path === '') {
    if (isScalar(node) && node.value !== null) throw new ConfigFileError('the document is not a map of properties');
  } else {
    let value: PropertyValue = '';
    if (isScalar(node)) {
      // Spring Boot's YAML loader leaves timestamps as written (its resolver drops the timestamp type).
      const asWritten =
        node.value instanceof Date ||
        (typeof node.value === 'boolean' && SINGLE_LETTER_BOOLEAN.test(String(node.source ?? '')));
      value = asWritten && typeof node.source === 'string' ? node.source : scalar(node.value);
      if (node.range !== undefined && node.range !== null) {
        const { line, col } = w.lines.linePos(node.range[0]);
        w.positions.set(path, `${line}:${col}`);
      }
    }
    w.values.set(path, value);
  }
}

/**
 * Parses YAML text into one document per `---` section, flattened to Spring's property keys. Throws
 * {@link ConfigFileError} naming the first error's line; the message never quotes the file.
 *
 * @example
 * parseYaml('server:\n  port: 8080\nlist: [a, b]')[0]?.values; // Map { 'server.port' => 8080, 'list[0]' => 'a', … }
 */
export function parseYaml(text: string): ConfigDocument[] {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { version: '1.1', merge: true, lineCounter: lines, prettyErrors: false });
  const documents = Array.isArray(parsed) ? parsed : [];
  const out: ConfigDocument[] = [];
  for (const doc of documents) {
    const error = doc.errors[0];
    if (error !== undefined) {
      const { line, col } = lines.linePos(error.pos[0]);
      throw new ConfigFileError(`line ${line}, column ${col}: ${error.code.toLowerCase().replaceAll('_', ' ')}`);
    }
    if (isSeq(doc.contents)) throw new ConfigFileError('the document is not a map of properties');
    const w: Walk = { doc, lines, values: new Map(), positions: new Map(), depth: 0 };
    walk(w, doc.contents, '');
    if (w.values.size > 0) out.push({ values: w.values, positions: w.positions });
  }
  return out;
}
