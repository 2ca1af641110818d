// The dependency picture stays downhill: packages import only the packages they declare, in an order without cycles,
// and inside a package no directory imports one that imports it back (so a reader can start at the bottom).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKSPACES = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] })
  .workspaces;
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

function sourceFiles(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? '');
}

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
}

function manifest(workspace: string): Manifest {
  return JSON.parse(readFileSync(join(ROOT, workspace, 'package.json'), 'utf8')) as Manifest;
}

/** The cycles of a directed graph, each as the path that closes it (empty when the graph runs one way). */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return found;
}

/** Inside a package's src: each top-level file is a node, each directory below src one node. */
function nodeOf(srcDir: string, file: string): string {
  const parts = relative(srcDir, file).split(sep);
  return parts.length === 1 ? (parts[0] ?? '') : `${parts[0] ?? ''}/`;
}

describe('layering', () => {
  const names = new Map(WORKSPACES.map((w) => [manifest(w).name, w]));

  it('each package imports only the workspace packages it declares, and they form no cycle', () => {
    const undeclared: string[] = [];
    const graph = new Map<string, Set<string>>();
    for (const workspace of WORKSPACES) {
      const declared = Object.keys(manifest(workspace).dependencies ?? {});
      graph.set(workspace, new Set(declared.filter((d) => names.has(d)).map((d) => names.get(d) ?? d)));
      for (const file of sourceFiles(join(ROOT, workspace, 'src'))) {
        for (const spec of importsOf(file)) {
          const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
          if (pkg !== undefined && names.has(pkg) && pkg !== manifest(workspace).name && !declared.includes(pkg)) {
            undeclared.push(`${relative(ROOT, file)} imports ${spec}`);
          }
          if (spec.startsWith('.') && !resolve(dirname(file), spec).startsWith(join(ROOT, workspace, 'src'))) {
            undeclared.push(`${relative(ROOT, file)} reaches outside its package's src: ${spec}`);
          }
        }
      }
    }
    expect(undeclared).toEqual([]);
    expect(cycles(graph)).toEqual([]);
  });

  it.each(WORKSPACES)('%s/src: no directory imports one that imports it back', (workspace) => {
    const srcDir = join(ROOT, workspace, 'src');
    const graph = new Map<string, Set<string>>();
    for (const file of sourceFiles(srcDir)) {
      const from = nodeOf(srcDir, file);
      const edges = graph.get(from) ?? graph.set(from, new Set()).get(from);
      for (const spec of importsOf(file)) {
        if (!spec.startsWith('.')) continue;
        const to = nodeOf(srcDir, resolve(dirname(file), spec));
        if (to !== from) edges?.add(to);
      }
    }
    expect(cycles(graph)).toEqual([]);
  });
});
