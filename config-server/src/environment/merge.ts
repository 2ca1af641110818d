// Property sources merged into one map, most specific first, and the keys that differ between two merges.
import type { PropertySource, PropertyValue } from './types.ts';

/**
 * One map from sources ordered most specific first: the first source holding a key wins, as in Spring's
 * `CompositePropertySource` and the Spring client.
 */
export function mergeSources(sources: readonly PropertySource[]): Map<string, PropertyValue> {
  const merged = new Map<string, PropertyValue>();
  for (const s of sources) {
    for (const [k, v] of Object.entries(s.source)) if (!merged.has(k)) merged.set(k, v);
  }
  return merged;
}

/** Keys added, removed or changed between two merged maps, sorted. */
export function changedKeys(
  before: ReadonlyMap<string, PropertyValue>,
  after: ReadonlyMap<string, PropertyValue>,
): string[] {
  const changed = new Set<string>();
  for (const [k, v] of after) if (!before.has(k) || before.get(k) !== v) changed.add(k);
  for (const k of before.keys()) if (!after.has(k)) changed.add(k);
  return [...changed].sort();
}
