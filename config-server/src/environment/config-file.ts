// A config file parsed by its extension: `.properties` by java.util.Properties' rules, anything else as YAML.
import type { ConfigDocument } from './documents.ts';
import { parseProperties } from './properties.ts';
import { parseYaml } from './yaml.ts';

/** Parses a config file by its extension; throws `ConfigFileError` (which names a line, never content). */
export function parseConfigFile(path: string, text: string): ConfigDocument[] {
  return path.endsWith('.properties') ? parseProperties(text) : parseYaml(text);
}
