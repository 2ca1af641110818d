// Reads a Spring Cloud Gateway configuration file unchanged.

// `spring.cloud.gateway.routes` (nested or dotted keys, also Spring Cloud Gateway 4.3's
// `spring.cloud.gateway.server.webflux.*`) or a top-level `routes` list, `default-filters`, `globalcors`, `httpclient`
// timeouts, and Spring's `${property:default}` placeholders. Documents activated by a profile (`---` with
// `spring.config.activate.on-profile`) are skipped: the file's defaults are read.
import { parseAllDocuments } from 'yaml';
import { GatewayError } from '../errors.ts';
import {
  parseDuration,
  parseShortcut,
  readRouteDefinition,
  scalarText,
  type ComponentDefinition,
  type RouteDefinition,
} from './definition.ts';
import { readGlobalCors, type GlobalCors } from './cors.ts';

export interface GatewayDocument {
  readonly routes: readonly RouteDefinition[];
  readonly defaultFilters: readonly ComponentDefinition[];
  readonly globalCors: readonly GlobalCors[];
  readonly connectTimeoutMs: number | undefined;
  readonly responseTimeoutMs: number | undefined;
}

type Tree = Record<string, unknown>;

function isTree(value: unknown): value is Tree {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Turns `a.b.c: v` keys into nesting, merging with nested keys of the same path (Spring accepts both). */
function expandKeys(value: unknown, depth = 0): unknown {
  if (!isTree(value) || depth > 4) return value;
  const out: Tree = {};
  for (const [key, v] of Object.entries(value)) {
    const parts = key.startsWith('[') ? [key] : key.split('.');
    let node = out;
    parts.slice(0, -1).forEach((p) => {
      const next = node[p];
      node = isTree(next) ? next : (node[p] = {});
    });
    const last = parts[parts.length - 1] ?? key;
    const expanded = expandKeys(v, depth + parts.length);
    const existing = node[last];
    node[last] = isTree(existing) && isTree(expanded) ? { ...existing, ...expanded } : expanded;
  }
  return out;
}

function at(tree: unknown, path: readonly string[]): unknown {
  let node = tree;
  for (const p of path) {
    if (!isTree(node)) return undefined;
    node = node[p];
  }
  return node;
}

/** Resolves `${key}` and `${key:default}` against the document's own properties, then `env` (Spring's order). */
function resolvePlaceholders(value: unknown, lookup: (key: string) => string | undefined, depth = 0): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${') || depth > 8) return value;
    const resolved = value.replace(/\$\{([^}:]+)(?::([^}]*))?\}/g, (whole, key: string, fallback?: string) => {
      const found = lookup(key.trim());
      return found ?? fallback ?? whole;
    });
    return resolved === value ? value : resolvePlaceholders(resolved, lookup, depth + 1);
  }
  if (Array.isArray(value)) return value.map((v) => resolvePlaceholders(v, lookup, depth));
  if (isTree(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolvePlaceholders(v, lookup, depth)]));
  }
  return value;
}

function propertyOf(tree: unknown, key: string): string | undefined {
  const v = at(tree, key.split('.'));
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/** Relaxed binding for the keys we read: `default-filters` or `defaultFilters`. */
function relaxed(tree: unknown, kebab: string): unknown {
  if (!isTree(tree)) return undefined;
  const camel = kebab.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  return tree[kebab] ?? tree[camel];
}

function timeout(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = parseDuration(scalarText(value) ?? '');
  if (ms === undefined) throw new GatewayError('invalid_route', `${where} ${JSON.stringify(value)} is not a duration`);
  return ms;
}

/**
 * What one source says about the gateway. A part is undefined when the source does not set it, so a source with higher
 * precedence replaces only the parts it sets (Spring's property precedence; a list comes whole from one source).
 */
export interface GatewayLayer {
  readonly routes: readonly RouteDefinition[] | undefined;
  readonly defaultFilters: readonly ComponentDefinition[] | undefined;
  readonly globalCors: readonly GlobalCors[] | undefined;
  readonly connectTimeoutMs: number | undefined;
  readonly responseTimeoutMs: number | undefined;
}

/** A layer that sets nothing. */
export const EMPTY_LAYER: GatewayLayer = {
  routes: undefined,
  defaultFilters: undefined,
  globalCors: undefined,
  connectTimeoutMs: undefined,
  responseTimeoutMs: undefined,
};

/** The parts of `upper` that it sets, the rest from `lower`. */
export function overlay(upper: GatewayLayer, lower: GatewayLayer): GatewayLayer {
  return {
    routes: upper.routes ?? lower.routes,
    defaultFilters: upper.defaultFilters ?? lower.defaultFilters,
    globalCors: upper.globalCors ?? lower.globalCors,
    connectTimeoutMs: upper.connectTimeoutMs ?? lower.connectTimeoutMs,
    responseTimeoutMs: upper.responseTimeoutMs ?? lower.responseTimeoutMs,
  };
}

/** A layer with every unset part at its default (no routes, no default filters…). */
export function complete(layer: GatewayLayer): GatewayDocument {
  return {
    routes: layer.routes ?? [],
    defaultFilters: layer.defaultFilters ?? [],
    globalCors: layer.globalCors ?? [],
    connectTimeoutMs: layer.connectTimeoutMs,
    responseTimeoutMs: layer.responseTimeoutMs,
  };
}

/**
 * Reads the gateway's parts from a nested configuration tree (`spring.cloud.gateway…` or, in a routes file, a
 * top-level `routes` list); `lookup` resolves `${…}` placeholders. Throws a GatewayError `invalid_route` naming the
 * route and the part that cannot work.
 */
export function readGatewayTree(root: unknown, lookup: (key: string) => string | undefined): GatewayLayer {
  const gateway = at(root, ['spring', 'cloud', 'gateway']);
  const webflux = at(gateway, ['server', 'webflux']);
  const section = resolvePlaceholders(webflux ?? gateway ?? {}, lookup);
  const rawRoutes = relaxed(section, 'routes') ?? resolvePlaceholders(at(root, ['routes']), lookup);
  if (rawRoutes !== undefined && rawRoutes !== null && !Array.isArray(rawRoutes)) {
    throw new GatewayError('invalid_route', 'routes must be a list');
  }
  const routes =
    rawRoutes === undefined || rawRoutes === null ? undefined : rawRoutes.map((r) => readRouteDefinition(r));
  const ids = new Set<string>();
  for (const r of routes ?? []) {
    if (ids.has(r.id)) throw new GatewayError('invalid_route', `route id ${r.id} is defined twice`);
    ids.add(r.id);
  }
  const rawDefaults = relaxed(section, 'default-filters');
  if (rawDefaults !== undefined && !Array.isArray(rawDefaults)) {
    throw new GatewayError('invalid_route', 'default-filters must be a list');
  }
  const defaultFilters = rawDefaults?.map((f) =>
    typeof f === 'string'
      ? parseShortcut(f)
      : (readRouteDefinition({ id: 'default-filters', uri: 'http://x', filters: [f] }).filters[0] ?? parseShortcut('')),
  );
  const rawCors = relaxed(section, 'globalcors') ?? relaxed(section, 'global-cors');
  const httpClient = relaxed(section, 'httpclient') ?? relaxed(section, 'http-client');
  return {
    routes,
    defaultFilters,
    globalCors: rawCors === undefined ? undefined : readGlobalCors(rawCors),
    connectTimeoutMs: timeout(relaxed(httpClient, 'connect-timeout'), 'httpclient.connect-timeout'),
    responseTimeoutMs: timeout(relaxed(httpClient, 'response-timeout'), 'httpclient.response-timeout'),
  };
}

/**
 * Reads a routes file into the parts it sets. Placeholders resolve from the file's own properties, then `env`.
 */
export function readGatewayFile(text: string, env: Readonly<Record<string, string | undefined>> = {}): GatewayLayer {
  const docs = parseAllDocuments(text);
  const trees: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      throw new GatewayError('invalid_route', `the routes file is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
    }
    const tree = expandKeys(doc.toJS());
    const profile = at(tree, ['spring', 'config', 'activate', 'on-profile']) ?? at(tree, ['spring', 'profiles']);
    if (profile === undefined) trees.push(tree);
  }
  const root = trees.reduce<Tree>((acc, t) => (isTree(t) ? { ...acc, ...t } : acc), {});
  return readGatewayTree(root, (key) => propertyOf(root, key) ?? envLookup(env, key));
}

/** An environment variable for a property key, exactly or in Spring's relaxed form (`a.b-c` → `A_B_C`). */
export function envLookup(env: Readonly<Record<string, string | undefined>>, key: string): string | undefined {
  return env[key] ?? env[key.toUpperCase().replace(/[.-]/g, '_')];
}

/**
 * Parses a routes file. Throws a GatewayError `invalid_route` naming the route and the part that cannot work.
 *
 * @example
 * const doc = readGatewayDocument('spring.cloud.gateway.routes:\n- id: a\n  uri: http://localhost:7001\n  predicates: [Path=/a/**]\n');
 */
export function readGatewayDocument(
  text: string,
  env: Readonly<Record<string, string | undefined>> = {},
): GatewayDocument {
  return complete(readGatewayFile(text, env));
}
