// The file layout the native and git backends share: which files an environment reads, and as which sources.
// Spring's order of files and sources lives here, without I/O, so both backends order sources identically.
import {
  documentApplies,
  type ConfigDocument,
  type EnvironmentRequest,
  type PropertySource,
  type PropertyValue,
} from '../environment/index.ts';

// Spring Boot's order within one location and name: .properties wins over .yml over .yaml.
export const EXTENSIONS = ['properties', 'yml', 'yaml'] as const;
export const CONFIG_FILE = /\.(properties|ya?ml)$/;

/**
 * Relative paths to look for, most specific first: profile files before plain ones (the last profile first), each
 * across the locations in order (a location is a directory prefix, `''` for the root or `dir/` otherwise), the
 * requested applications before `application`.
 */
export function candidateFiles(request: EnvironmentRequest, prefixes: readonly string[]): string[] {
  const names = [...new Set([...[...request.applications].reverse(), 'application'])];
  const stems: string[] = [];
  for (const p of [...request.profiles].reverse()) {
    for (const prefix of prefixes) for (const n of names) stems.push(`${prefix}${n}-${p}`);
  }
  for (const prefix of prefixes) for (const n of names) stems.push(`${prefix}${n}`);
  return [...new Set(stems)].flatMap((stem) => EXTENSIONS.map((ext) => `${stem}.${ext}`));
}

/**
 * The property sources of one parsed file for the active profiles. `shown` is the file's name as sources and
 * origins show it (`config-repo/product.yml`), `name` the source name (`file:config-repo/product.yml`), `file` its
 * path from the repository root (which application it belongs to is decided on that).
 */
export function fileSources(
  documents: readonly ConfigDocument[],
  names: { readonly name: string; readonly shown: string; readonly file: string },
  profiles: readonly string[],
): PropertySource[] {
  const out: PropertySource[] = [];
  // Later documents override earlier ones, so they come first.
  for (let i = documents.length - 1; i >= 0; i--) {
    const doc = documents[i];
    if (doc === undefined || !documentApplies(doc, profiles)) continue;
    const source: Record<string, PropertyValue> = {};
    const origins: Record<string, string> = {};
    for (const [k, v] of doc.values) {
      source[k] = v;
      const pos = doc.positions.get(k);
      if (pos !== undefined) origins[k] = `file [${names.shown}] - ${pos}`;
    }
    out.push({
      name: documents.length > 1 ? `${names.name} (document #${i})` : names.name,
      source,
      origins,
      document: { file: names.file },
    });
  }
  return out;
}

/** The relative paths a plain-resource request may be served from, in order (profile variants first). */
export function resourceCandidates(path: string, profiles: readonly string[], prefixes: readonly string[]): string[] {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  const [base, ext] = dot > slash + 1 ? [path.slice(0, dot), path.slice(dot)] : [path, ''];
  const out: string[] = [];
  for (const prefix of prefixes) {
    for (const p of [...profiles].reverse()) out.push(`${prefix}${base}-${p}${ext}`);
    out.push(`${prefix}${path}`);
  }
  return out;
}
