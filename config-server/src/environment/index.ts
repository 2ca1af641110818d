// The environment model: Spring's property sources, file formats, placeholders and renderings. No HTTP, no I/O.
export { DECRYPTED_HEADER, decryptEnvironment, decryptedHeader, INVALID_VALUE } from './decrypt.ts';
export type { DecryptionFailure } from './decrypt.ts';
export { ConfigFileError, documentApplies, isProfileActivated } from './documents.ts';
export type { ConfigDocument } from './documents.ts';
export { parseConfigFile } from './config-file.ts';
export { changedKeys, mergeSources } from './merge.ts';
export {
  decodeSegment,
  forbiddenInPath,
  forbiddenInText,
  MAX_NAME_LENGTH,
  normalizeNameOrLabel,
  parseApplications,
  parseProfiles,
  splitNameAndProfiles,
} from './names.ts';
export { resolveAll, resolvePlaceholders } from './placeholders.ts';
export { parseProperties } from './properties.ts';
export { environmentJson, keySegments, renderJson, renderProperties, renderYaml, toNested } from './render.ts';
export type { DocumentRef, Environment, EnvironmentRequest, PropertySource, PropertyValue } from './types.ts';
export { parseYaml } from './yaml.ts';
