// Server-side overrides (Spring's spring.cloud.config.server.overrides): values every client receives first.
// They are served as the "overrides" property source, whatever the backends hold.
import { parseConfigFile } from './environment/index.ts';

export class OverridesSyntaxError extends Error {
  override readonly name = 'OverridesSyntaxError';
}

/**
 * Parses `key=value,key2=value2`; `\,` keeps a comma inside a value and `\\` a backslash. Errors name the entry by
 * position, never its value (overrides may hold secrets).
 *
 * @example
 * parseOverrides('eureka.client.enabled=false,greeting=hello\\, world');
 */
export function parseOverrides(text: string): Record<string, string> {
  const entries: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && (text[i + 1] === ',' || text[i + 1] === '\\')) {
      current += text[++i] ?? '';
    } else if (ch === ',') {
      entries.push(current);
      current = '';
    } else current += ch ?? '';
  }
  entries.push(current);
  const out: Record<string, string> = {};
  entries.forEach((entry, index) => {
    if (entry.trim() === '') return;
    const eq = entry.indexOf('=');
    const key = eq === -1 ? '' : entry.slice(0, eq).trim();
    if (key === '') throw new OverridesSyntaxError(`entry ${index + 1} must be key=value`);
    out[key] = entry.slice(eq + 1);
  });
  return out;
}

/** Reads overrides from a YAML or `.properties` file's text: every document, later ones winning, values as text. */
export function overridesFromFile(path: string, text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const doc of parseConfigFile(path, text)) for (const [k, v] of doc.values) out[k] = String(v);
  return out;
}
