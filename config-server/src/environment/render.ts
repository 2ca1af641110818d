// The environment as Spring writes it: Environment JSON (plain and v2) and merged .yml, .properties and .json.
import { stringify } from 'yaml';
import type { Environment, PropertyValue } from './types.ts';

type Segment = string | number;

/** `a.b[0].c` → ['a','b',0,'c']; `a[x.y]` keeps `x.y` as one map key, as Spring's binder reads it. */
export function keySegments(key: string): Segment[] {
  const out: Segment[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === '.') {
      if (current !== '') out.push(current);
      current = '';
    } else if (c === '[') {
      if (current !== '') out.push(current);
      current = '';
      const close = key.indexOf(']', i);
      if (close === -1) return [key];
      const inside = key.slice(i + 1, close);
      out.push(/^\d+$/.test(inside) ? Number(inside) : inside);
      i = close;
    } else {
      current += c;
    }
  }
  if (current !== '') out.push(current);
  return out;
}

type Tree = Record<string, unknown>;

/**
 * Spring's `convertToMap` for the `.json` and `.yml` renderings: flat keys back into nested maps and lists. A key
 * that collides with a scalar (`a: 1` and `a.b: 2`) keeps the first one written.
 */
export function toNested(values: ReadonlyMap<string, PropertyValue>): Tree {
  const root: Tree = {};
  const arrays = new Set<Tree>();
  for (const [key, value] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const segments = keySegments(key);
    let node: Tree = root;
    let ok = true;
    for (let i = 0; i < segments.length - 1; i++) {
      const seg = String(segments[i]);
      const next = node[seg];
      if (next === undefined) {
        const created: Tree = {};
        if (typeof segments[i + 1] === 'number') arrays.add(created);
        node[seg] = created;
        node = created;
      } else if (typeof next === 'object' && next !== null) {
        node = next as Tree;
      } else {
        ok = false;
        break;
      }
    }
    const last = String(segments[segments.length - 1] ?? key);
    if (ok && node[last] === undefined) node[last] = value;
  }
  return finish(root, arrays) as Tree;
}

function finish(node: unknown, arrays: ReadonlySet<Tree>): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const tree = node as Tree;
  if (arrays.has(tree) && Object.keys(tree).every((k) => /^\d+$/.test(k))) {
    return Object.keys(tree)
      .sort((a, b) => Number(a) - Number(b))
      .map((k) => finish(tree[k], arrays));
  }
  return Object.fromEntries(Object.entries(tree).map(([k, v]) => [k, finish(v, arrays)]));
}

/** `.properties` rendering: `key: value` lines sorted by key, as Spring's EnvironmentController writes them. */
export function renderProperties(values: ReadonlyMap<string, PropertyValue>): string {
  return [...values.keys()]
    .sort()
    .map((k) => `${k}: ${String(values.get(k))}`)
    .join('\n');
}

export function renderYaml(values: ReadonlyMap<string, PropertyValue>): string {
  return stringify(toNested(values), { lineWidth: 0 });
}

export function renderJson(values: ReadonlyMap<string, PropertyValue>): string {
  return JSON.stringify(toNested(values));
}

/** The environment JSON; `withOrigin` is the v2 media type's `{value, origin}` shape. */
export function environmentJson(env: Environment, withOrigin: boolean): unknown {
  return {
    name: env.name,
    profiles: env.profiles,
    label: env.label,
    version: env.version,
    state: env.state,
    propertySources: env.propertySources.map((s) => ({
      name: s.name,
      source: withOrigin
        ? Object.fromEntries(
            Object.entries(s.source).map(([k, v]) => [
              k,
              s.origins?.[k] === undefined ? { value: v } : { value: v, origin: s.origins[k] },
            ]),
          )
        : s.source,
    })),
  };
}
