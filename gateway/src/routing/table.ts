// Compiled routes in match order, in an immutable table.

// A refresh or a management call builds a new table and swaps it in, so requests under way finish on the routes they
// matched and no connection is dropped.
import type { Logger } from '@trellis/kit';
import type { CircuitBreaker } from '@trellis/clients/resilience';
import { GatewayError } from '../errors.ts';
import { readCorsPolicy, type CorsPolicy, type GlobalCors } from './cors.ts';
import type { ComponentDefinition, RouteDefinition } from './definition.ts';
import { parseDuration, scalarText } from './definition.ts';
import type { RequestView } from './exchange.ts';
import { buildFilter, emptyFeatures, type GatewayFilter, type RouteFeatures } from './filters.ts';
import { buildPredicate, type Predicate } from './predicates.ts';
import type { SharedBuckets, TokenBucketLimiter } from './rate-limiter.ts';

/** Where a route sends requests. `lb` targets are resolved per request through discovery. */
export interface RouteTarget {
  readonly lb: boolean;
  /** `http`, `https`, `ws` or `wss`. */
  readonly scheme: 'http' | 'https' | 'ws' | 'wss';
  /** Host name, or the application name for `lb`. */
  readonly host: string;
  readonly port: number;
  /** For fixed targets: `http://host:port`, the key of the connection pool. */
  readonly origin: string;
}

export interface Route {
  readonly id: string;
  readonly order: number;
  readonly definition: RouteDefinition;
  readonly target: RouteTarget;
  readonly predicates: readonly Predicate[];
  readonly requestFilters: readonly GatewayFilter[];
  /** Whether a request filter waits on I/O (`requestAsync`); only then does the proxy await the filters. */
  readonly awaitsFilters: boolean;
  /** Reverse route order, as Spring's post filters. */
  readonly responseFilters: readonly GatewayFilter[];
  readonly features: Readonly<RouteFeatures>;
  /** Whether a valid token is required, and with which scopes. */
  readonly token: { readonly scopes: readonly string[]; readonly introspect: boolean } | undefined;
  readonly cors: CorsPolicy | undefined;
  readonly connectTimeoutMs: number | undefined;
  readonly responseTimeoutMs: number | undefined;
}

export interface Match {
  readonly route: Route;
  readonly vars: Record<string, string>;
  readonly view: RequestView;
}

export interface CompileOptions {
  readonly defaultFilters?: readonly ComponentDefinition[];
  readonly globalCors?: readonly GlobalCors[];
  /** The file's `httpclient` timeouts, for routes without their own `connect-timeout`/`response-timeout` metadata. */
  readonly connectTimeoutMs?: number | undefined;
  readonly responseTimeoutMs?: number | undefined;
  /** When true, routes without TokenCheck or Public need a valid token (no scope). */
  readonly requireTokens: boolean;
  /** Whether a token verifier is configured; TokenCheck without one cannot work. */
  readonly canVerifyTokens: boolean;
  /** Whether an introspection client is configured; TokenCheck's `introspect: true` without one cannot work. */
  readonly canIntrospectTokens?: boolean;
  /** Whether discovery is configured; `lb://` without it cannot work. */
  readonly canDiscover: boolean;
  readonly logger: Logger;
  readonly now: () => number;
  readonly random?: () => number;
  /** State kept across tables (breakers, rate-limit buckets), by name. */
  readonly state: RouteState;
  /** RequestRateLimiter buckets in Redis, shared with other gateways; undefined keeps them in `state`. */
  readonly sharedBuckets?: SharedBuckets | undefined;
}

/** Stateful parts shared by successive tables, so a refresh does not reset a circuit or refill a bucket. */
export class RouteState {
  readonly breakers = new Map<string, CircuitBreaker>();
  readonly limiters = new Map<string, TokenBucketLimiter>();
}

function parseTarget(uri: string, routeId: string): RouteTarget {
  const invalid = (reason: string): GatewayError =>
    new GatewayError('invalid_route', `route ${routeId}: uri ${JSON.stringify(uri)} ${reason}`);
  const lb = uri.startsWith('lb:');
  // `lb://name` is HTTP through discovery; `lb:ws://name` a WebSocket through discovery.
  const rest = !lb ? uri : uri.startsWith('lb://') ? `http://${uri.slice(5)}` : uri.slice(3);
  let url: URL;
  try {
    url = new URL(rest);
  } catch {
    throw invalid('is not a URI');
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== 'http' && scheme !== 'https' && scheme !== 'ws' && scheme !== 'wss') {
    throw invalid('must be http(s)://, ws(s)://, lb:// or lb:ws://');
  }
  if (url.hostname === '') throw invalid('has no host');
  const secure = scheme === 'https' || scheme === 'wss';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const httpScheme = secure ? 'https' : 'http';
  return { lb, scheme, host: url.hostname, port, origin: `${httpScheme}://${url.host}` };
}

function metadataTimeout(
  metadata: Readonly<Record<string, unknown>>,
  key: string,
  routeId: string,
): number | undefined {
  const camel = key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  const raw = metadata[key] ?? metadata[camel];
  if (raw === undefined || raw === null) return undefined;
  const ms = parseDuration(scalarText(raw) ?? '');
  if (ms === undefined || ms <= 0) {
    throw new GatewayError('invalid_route', `route ${routeId}: metadata ${key} must be a positive duration`);
  }
  return ms;
}

function compileRoute(definition: RouteDefinition, options: CompileOptions, weights: WeightGroups): Route {
  const id = definition.id;
  const target = parseTarget(definition.uri, id);
  if (target.lb && !options.canDiscover) {
    throw new GatewayError('invalid_route', `route ${id}: ${definition.uri} needs a registry (set --registry-url)`);
  }
  const predicates = definition.predicates.map((p) =>
    buildPredicate(p, {
      routeId: id,
      addWeight: (group, routeId, weight) => {
        const list = weights.get(group) ?? [];
        list.push({ routeId, weight });
        weights.set(group, list);
      },
    }),
  );
  const features = emptyFeatures();
  const context = {
    routeId: id,
    now: options.now,
    logger: options.logger,
    circuitBreaker: (name: string, create: () => CircuitBreaker): CircuitBreaker => {
      let b = options.state.breakers.get(name);
      if (b === undefined) options.state.breakers.set(name, (b = create()));
      return b;
    },
    rateLimiter: (key: string, create: () => TokenBucketLimiter): TokenBucketLimiter => {
      let l = options.state.limiters.get(key);
      if (l === undefined) options.state.limiters.set(key, (l = create()));
      return l;
    },
    sharedBuckets: options.sharedBuckets,
  };
  const filters = [...(options.defaultFilters ?? []), ...definition.filters]
    .map((f) => buildFilter(f, context, features))
    .filter((f): f is GatewayFilter => f !== undefined);
  if (features.tokenScopes !== undefined && features.public) {
    throw new GatewayError('invalid_route', `route ${id}: TokenCheck and Public contradict each other`);
  }
  if (features.tokenScopes !== undefined && !options.canVerifyTokens) {
    throw new GatewayError('invalid_route', `route ${id}: TokenCheck needs an issuer (set --issuer and --audience)`);
  }
  if (features.tokenIntrospect && options.canIntrospectTokens !== true) {
    throw new GatewayError(
      'invalid_route',
      `route ${id}: TokenCheck introspect needs an introspection client (set GATEWAY_INTROSPECTION_CLIENT_ID and GATEWAY_INTROSPECTION_CLIENT_SECRET, or --introspection-client-id and --introspection-client-secret, to a client of the issuer's)`,
    );
  }
  const token =
    features.tokenScopes !== undefined
      ? { scopes: features.tokenScopes, introspect: features.tokenIntrospect }
      : options.requireTokens && !features.public
        ? { scopes: [], introspect: false }
        : undefined;
  const cors =
    definition.metadata.cors === undefined ? undefined : readCorsPolicy(definition.metadata.cors, `route ${id}`);
  return {
    id,
    order: definition.order,
    definition,
    target,
    predicates,
    requestFilters: filters.filter((f) => f.request !== undefined || f.requestAsync !== undefined),
    awaitsFilters: filters.some((f) => f.requestAsync !== undefined),
    responseFilters: filters.filter((f) => f.response !== undefined).reverse(),
    features,
    token,
    cors,
    connectTimeoutMs: metadataTimeout(definition.metadata, 'connect-timeout', id) ?? options.connectTimeoutMs,
    responseTimeoutMs: metadataTimeout(definition.metadata, 'response-timeout', id) ?? options.responseTimeoutMs,
  };
}

type WeightGroups = Map<string, { routeId: string; weight: number }[]>;

export class RouteTable {
  readonly routes: readonly Route[];
  readonly globalCors: readonly GlobalCors[];
  readonly #weights: WeightGroups;
  readonly #random: () => number;

  private constructor(routes: Route[], globalCors: readonly GlobalCors[], weights: WeightGroups, random: () => number) {
    this.routes = routes;
    this.globalCors = globalCors;
    this.#weights = weights;
    this.#random = random;
  }

  /** Compiles definitions; the first invalid one throws a GatewayError naming it. Routes sort by order, then position. */
  static compile(definitions: readonly RouteDefinition[], options: CompileOptions): RouteTable {
    const weights: WeightGroups = new Map();
    const routes = definitions
      .map((d, i) => ({ route: compileRoute(d, options, weights), i }))
      .sort((a, b) => a.route.order - b.route.order || a.i - b.i)
      .map((x) => x.route);
    return new RouteTable(routes, options.globalCors ?? [], weights, options.random ?? Math.random);
  }

  get(id: string): Route | undefined {
    return this.routes.find((r) => r.id === id);
  }

  /** The first route whose predicates all match. */
  match(request: Omit<RequestView, 'weightChoice'>): Match | undefined {
    const view = new MatchView(request, this.#weights, this.#random);
    // One vars object, replaced only when a route that did not match left captures in it: a fresh object per route
    // tried was a per-request allocation for every route ahead of the matching one.
    let vars: Record<string, string> = {};
    for (const route of this.routes) {
      let ok = true;
      for (const p of route.predicates) {
        if (!p(view, vars)) {
          ok = false;
          break;
        }
      }
      if (ok) return { route, vars, view };
      for (const _ in vars) {
        vars = {};
        break;
      }
    }
    return undefined;
  }
}

/**
 * The request as predicates see it. A class, not `{ ...request, weightChoice: () => … }`: that spread and closure
 * were allocated (and, under tsx, named) on every proxied request.
 */
class MatchView implements RequestView {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: RequestView['headers'];
  readonly remoteAddress: string;
  readonly now: number;
  readonly #weights: WeightGroups;
  readonly #random: () => number;
  /** The Weight group choices of this request: decided once per group, so every route of a group agrees. */
  #chosen: Map<string, string | undefined> | undefined;

  constructor(request: Omit<RequestView, 'weightChoice'>, weights: WeightGroups, random: () => number) {
    this.method = request.method;
    this.path = request.path;
    this.query = request.query;
    this.headers = request.headers;
    this.remoteAddress = request.remoteAddress;
    this.now = request.now;
    this.#weights = weights;
    this.#random = random;
  }

  weightChoice(group: string): string | undefined {
    this.#chosen ??= new Map();
    if (!this.#chosen.has(group)) this.#chosen.set(group, this.#pick(group));
    return this.#chosen.get(group);
  }

  #pick(group: string): string | undefined {
    const members = this.#weights.get(group) ?? [];
    const total = members.reduce((s, m) => s + m.weight, 0);
    if (total <= 0) return undefined;
    let r = this.#random() * total;
    for (const m of members) {
      r -= m.weight;
      if (r < 0) return m.routeId;
    }
    return members[members.length - 1]?.routeId;
  }
}
