// The components `trellis` can start, by name and summary, each loaded only when it runs.
// `trellis product` (how docker-compose runs one service) loads the product service alone, not the auth server or gateway.
import type { Component } from '@trellis/kit';
import { AUTH_SERVER_NODE_FLAGS } from './node-flags.ts';

/** A component as `trellis` lists it before its code is loaded. */
export interface CatalogueEntry {
  readonly name: string;
  readonly summary: string;
  /** Imports the component: only for the one that runs (or shows its --help), or for all of them in `trellis up`. */
  load(): Promise<Component>;
  /** V8 flags the process running it gets (`trellis` restarts itself with them): see node-flags.ts. */
  readonly nodeFlags?: readonly string[];
}

/**
 * Every component in landscape start order: the registry first so the others can register, the config server before
 * the services that fetch their configuration, the auth server before the gateway and the services that check its
 * tokens, then the example services (core services before the composite, so its first calls find them registered).
 */
export const catalogue: readonly CatalogueEntry[] = [
  {
    name: 'registry',
    summary: 'Eureka-compatible service registry: API on /eureka, watch stream, dashboard, peers, SQLite persistence',
    load: async () => (await import('@trellis/registry')).registryComponent,
  },
  {
    name: 'config-server',
    summary: 'Spring-Cloud-Config-compatible configuration server over HTTPS (port 8888)',
    load: async () => (await import('@trellis/config-server')).configServerComponent,
  },
  {
    name: 'auth-server',
    summary: 'OAuth 2.0 / OpenID Connect authorization server on oidc-provider (port 9999)',
    load: async () => (await import('@trellis/auth-server')).authServerComponent,
    nodeFlags: AUTH_SERVER_NODE_FLAGS,
  },
  {
    name: 'gateway',
    summary: 'Edge gateway with Spring Cloud Gateway routes, lb:// through the registry, token checks (8080, 8443)',
    load: async () => (await import('@trellis/gateway')).gatewayComponent,
  },
  {
    name: 'product',
    summary: 'example core service: products (port 7001)',
    load: async () => (await import('@trellis/examples/product')).productComponent,
  },
  {
    name: 'recommendation',
    summary: 'example core service: recommendations (port 7002)',
    load: async () => (await import('@trellis/examples/recommendation')).recommendationComponent,
  },
  {
    name: 'review',
    summary: 'example core service: reviews (port 7003; scaled instances take the next free ports)',
    load: async () => (await import('@trellis/examples/review')).reviewComponent,
  },
  {
    name: 'product-composite',
    summary: 'example composite service: aggregates product, recommendation and review behind OAuth scopes (port 7000)',
    load: async () => (await import('@trellis/examples/product-composite')).productCompositeComponent,
  },
];

/** Entries for components already loaded (what a test hands `trellis`). */
export function entriesOf(components: readonly Component[]): CatalogueEntry[] {
  return components.map((component) => ({
    name: component.name,
    summary: component.summary,
    load: () => Promise.resolve(component),
  }));
}

/** Loads every entry: the components in the entries' order. */
export async function loadAll(entries: readonly CatalogueEntry[]): Promise<Component[]> {
  return Promise.all(entries.map((entry) => entry.load()));
}
