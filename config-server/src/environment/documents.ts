// One document of a config file, and whether it applies to the active profiles.
import type { PropertyValue } from './types.ts';

/** One document of a config file (a YAML file may hold several; `.properties` too, split by `#---`). */
export interface ConfigDocument {
  readonly values: ReadonlyMap<string, PropertyValue>;
  /** 1-based `line:column` of each value, for the v2 media type's origin. */
  readonly positions: ReadonlyMap<string, string>;
}

/** A file that could not be parsed: the message names the line, never the file's content. */
export class ConfigFileError extends Error {
  override readonly name = 'ConfigFileError';
}

// Spring Boot reads both; the old name still turns up in repositories written before Boot 2.4.
const ACTIVATION_KEYS = ['spring.config.activate.on-profile', 'spring.profiles'];

/**
 * Whether a document applies to the active profiles: no activation key means always; otherwise Spring's profile
 * expressions in their common forms (`dev`, `dev,docker`, `dev | docker`, `!prod`, `dev & cloud`).
 */
export function documentApplies(doc: ConfigDocument, profiles: readonly string[]): boolean {
  const expression = ACTIVATION_KEYS.map((k) => doc.values.get(k)).find((v) => v !== undefined);
  if (expression === undefined) return true;
  return String(expression)
    .split(/[,|]/)
    .some((alternative) =>
      alternative
        .split('&')
        .map((p) => p.trim())
        .filter((p) => p !== '')
        .every((p) => (p.startsWith('!') ? !profiles.includes(p.slice(1).trim()) : profiles.includes(p))),
    );
}

export function isProfileActivated(doc: ConfigDocument): boolean {
  return ACTIVATION_KEYS.some((k) => doc.values.has(k));
}
