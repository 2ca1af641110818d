// Spring Cloud Gateway's filter factories, by the names its YAML uses.

// Most are hooks on the request (path and headers sent upstream) or on the response head; the rest (RequestSize, Retry,
// CircuitBreaker, token checks, PreserveHostHeader) set how the proxy forwards, so the forwarder reads them from the
// route's features.
import { STATUS_CODES } from 'node:http';
import { CircuitBreaker } from '@trellis/clients/resilience';
import type { Logger } from '@trellis/kit';
import { GatewayError } from '../errors.ts';
import { Args, parseDataSize, parseDuration, type ComponentDefinition } from './definition.ts';
import { firstHeader, headerValues, type Exchange, type HeaderMap, type ResponseHead } from './exchange.ts';
import { expandTemplate } from './path-pattern.ts';
import { TokenBucketLimiter, type SharedBuckets, type Verdict } from './rate-limiter.ts';
import { compileLinear } from './safe-regex.ts';

export interface GatewayFilter {
  readonly name: string;
  /** Runs before forwarding, in route order; throws a GatewayError to answer without forwarding. */
  readonly request?: (exchange: Exchange) => void;
  /**
   * Like `request`, for a filter that waits on I/O (RequestRateLimiter with Redis). Only routes that have one take
   * the awaiting path, so the others pay nothing for it.
   */
  readonly requestAsync?: (exchange: Exchange) => Promise<void>;
  /** Runs on the upstream's response head, in reverse route order (as Spring's post filters). */
  readonly response?: (exchange: Exchange, head: ResponseHead) => void;
}

export interface RetryPolicy {
  readonly retries: number;
  readonly statuses: ReadonlySet<number>;
  /** Status classes retried, e.g. 5 for SERVER_ERROR. */
  readonly series: ReadonlySet<number>;
  readonly methods: ReadonlySet<string>;
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly factor: number;
}

export interface CircuitBreakerPolicy {
  readonly breaker: CircuitBreaker;
  /** `forward:/path`: answered by the route that matches this path instead. */
  readonly fallbackPath: string | undefined;
  /** Upstream statuses counted as failures (Spring's statusCodes). */
  readonly statusCodes: ReadonlySet<number>;
}

/** How a route forwards, set by the filters that are not plain hooks. */
export interface RouteFeatures {
  maxBodySize: number | undefined;
  preserveHost: boolean;
  retry: RetryPolicy | undefined;
  circuitBreaker: CircuitBreakerPolicy | undefined;
  /** Scopes a token must carry; undefined when the route declares no TokenCheck. */
  tokenScopes: readonly string[] | undefined;
  /** TokenCheck's `introspect: true`: ask the issuer about the token on every request (sees revocations at once). */
  tokenIntrospect: boolean;
  /** Declared open to anonymous callers (the `Public` filter) when tokens are required by default. */
  public: boolean;
}

export interface FilterContext {
  readonly routeId: string;
  readonly now: () => number;
  readonly logger: Logger;
  /** Breakers are shared by name so a refresh that keeps a route keeps its breaker's state. */
  circuitBreaker(name: string, create: () => CircuitBreaker): CircuitBreaker;
  rateLimiter(key: string, create: () => TokenBucketLimiter): TokenBucketLimiter;
  /** Buckets shared through Redis (--rate-limit-redis-url); undefined keeps them in this process. */
  readonly sharedBuckets: SharedBuckets | undefined;
}

interface FilterFactory {
  readonly fields: readonly string[];
  build(args: Args, context: FilterContext, features: RouteFeatures): GatewayFilter | undefined;
}

/** Spring's HttpStatus names: BAD_REQUEST, I_AM_A_TEAPOT… derived from node's reason phrases. */
const STATUS_BY_NAME = new Map<string, number>(
  Object.entries(STATUS_CODES).map(([code, text]) => [
    (text ?? '').toUpperCase().replace(/'/g, '').replace(/\W+/g, '_'),
    Number(code),
  ]),
);
STATUS_BY_NAME.set('I_AM_A_TEAPOT', 418);
STATUS_BY_NAME.set('PAYLOAD_TOO_LARGE', 413);

function parseStatus(value: string, args: Args): number {
  const n = /^\d{3}$/.test(value.trim()) ? Number(value) : STATUS_BY_NAME.get(value.trim().toUpperCase());
  if (n === undefined || n < 100 || n > 599) throw args.error(`${JSON.stringify(value)} is not an HTTP status`);
  return n;
}

const SERIES: Readonly<Record<string, number>> = {
  INFORMATIONAL: 1,
  SUCCESSFUL: 2,
  REDIRECTION: 3,
  CLIENT_ERROR: 4,
  SERVER_ERROR: 5,
};

function addHeader(headers: HeaderMap, name: string, value: string): void {
  const current = headers[name];
  if (current === undefined) headers[name] = value;
  else headers[name] = [...(Array.isArray(current) ? current : [current]), value];
}

/** Java's replaceAll replacement in JS syntax: `${name}` → `$<name>`, `\$` → `$$`. */
function javaReplacement(replacement: string): string {
  return replacement
    .replace(/\$\\/g, '$') // Spring's YAML escape: `$\{segment}` is written so the placeholder resolver leaves it
    .replace(/\\\$/g, '$$$$')
    .replace(/\$\{(\w+)\}/g, '$$<$1>');
}

const SECURE_HEADERS: readonly (readonly [string, string])[] = [
  ['x-xss-protection', '1 ; mode=block'],
  ['strict-transport-security', 'max-age=631138519'],
  ['x-frame-options', 'DENY'],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'no-referrer'],
  [
    'content-security-policy',
    "default-src 'self' https:; font-src 'self' https: data:; img-src 'self' https: data:; object-src 'none'; script-src https:; style-src 'self' https: 'unsafe-inline'",
  ],
  ['x-download-options', 'noopen'],
  ['x-permitted-cross-domain-policies', 'none'],
];

const IDEMPOTENT = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'];

function keyResolver(spec: string, args: Args): (exchange: Exchange) => string | undefined {
  const s = spec.trim();
  // Spring names a resolver bean by SpEL (`#{@principalNameKeyResolver}`); the bean names map to built-ins here.
  const bean = /^#\{@(\w+)\}$/.exec(s)?.[1] ?? s;
  if (/^(principal|principalNameKeyResolver|client|clientId|clientIdKeyResolver)$/i.test(bean)) {
    return (ex) => ex.auth?.clientId ?? ex.auth?.subject;
  }
  if (/^(ip|ipKeyResolver|remoteAddr|remoteAddrKeyResolver)$/i.test(bean)) return (ex) => ex.request.remoteAddress;
  const header = /^header:(.+)$/i.exec(bean)?.[1];
  if (header !== undefined) {
    const name = header.trim().toLowerCase();
    return (ex) => firstHeader(ex.request.headers, name);
  }
  throw args.error(`keyResolver ${JSON.stringify(spec)} is not principal, ip or header:<name>`);
}

const FACTORIES: Readonly<Record<string, FilterFactory>> = {
  StripPrefix: {
    fields: ['parts'],
    build(args) {
      const parts = args.integer('parts', 1, 0);
      return {
        name: 'StripPrefix',
        request(ex) {
          const segments = ex.path.split('/').slice(1);
          const kept = segments.slice(parts).join('/');
          ex.path = `/${kept}`;
        },
      };
    },
  },
  PrefixPath: {
    fields: ['prefix'],
    build(args) {
      const prefix = args.string('prefix').replace(/\/+$/, '');
      return {
        name: 'PrefixPath',
        request(ex) {
          ex.path = prefix + ex.path;
        },
      };
    },
  },
  RewritePath: {
    fields: ['regexp', 'replacement'],
    build(args) {
      let regex: RegExp;
      try {
        regex = compileLinear(args.string('regexp'), 'g');
      } catch (err) {
        throw args.error(`regexp is refused: ${(err as Error).message}`);
      }
      const replacement = javaReplacement(args.optionalString('replacement') ?? '');
      return {
        name: 'RewritePath',
        request(ex) {
          const rewritten = ex.path.replace(regex, replacement);
          ex.path = rewritten.startsWith('/') ? rewritten : `/${rewritten}`;
        },
      };
    },
  },
  SetPath: {
    fields: ['template'],
    build(args) {
      const template = args.string('template');
      return {
        name: 'SetPath',
        request(ex) {
          ex.path = expandTemplate(template, ex.vars);
        },
      };
    },
  },
  AddRequestHeader: {
    fields: ['name', 'value'],
    build(args) {
      const name = args.string('name').toLowerCase();
      const value = args.optionalString('value') ?? '';
      return { name: 'AddRequestHeader', request: (ex) => addHeader(ex.headers, name, expandTemplate(value, ex.vars)) };
    },
  },
  SetRequestHeader: {
    fields: ['name', 'value'],
    build(args) {
      const name = args.string('name').toLowerCase();
      const value = args.optionalString('value') ?? '';
      return { name: 'SetRequestHeader', request: (ex) => void (ex.headers[name] = expandTemplate(value, ex.vars)) };
    },
  },
  RemoveRequestHeader: {
    fields: ['name'],
    build(args) {
      const name = args.string('name').toLowerCase();
      return { name: 'RemoveRequestHeader', request: (ex) => void delete ex.headers[name] };
    },
  },
  AddResponseHeader: {
    fields: ['name', 'value'],
    build(args) {
      const name = args.string('name').toLowerCase();
      const value = args.optionalString('value') ?? '';
      return {
        name: 'AddResponseHeader',
        response: (ex, head) => addHeader(head.headers, name, expandTemplate(value, ex.vars)),
      };
    },
  },
  SetResponseHeader: {
    fields: ['name', 'value'],
    build(args) {
      const name = args.string('name').toLowerCase();
      const value = args.optionalString('value') ?? '';
      return {
        name: 'SetResponseHeader',
        response: (ex, head) => void (head.headers[name] = expandTemplate(value, ex.vars)),
      };
    },
  },
  RemoveResponseHeader: {
    fields: ['name'],
    build(args) {
      const name = args.string('name').toLowerCase();
      return { name: 'RemoveResponseHeader', response: (_ex, head) => void delete head.headers[name] };
    },
  },
  SetStatus: {
    fields: ['status'],
    build(args) {
      const status = parseStatus(args.string('status'), args);
      return { name: 'SetStatus', response: (_ex, head) => void (head.status = status) };
    },
  },
  SecureHeaders: {
    fields: ['disable'],
    build(args) {
      const disabled = new Set((args.list('disable') ?? []).map((h) => h.toLowerCase()));
      const headers = SECURE_HEADERS.filter(([name]) => !disabled.has(name));
      return {
        name: 'SecureHeaders',
        response(_ex, head) {
          // The upstream's own policy wins: a service that sets a CSP knows its pages better than the edge.
          for (const [name, value] of headers) if (head.headers[name] === undefined) head.headers[name] = value;
        },
      };
    },
  },
  DedupeResponseHeader: {
    fields: ['name', 'strategy'],
    build(args) {
      const names = args
        .string('name')
        .split(/\s+/)
        .filter((n) => n !== '')
        .map((n) => n.toLowerCase());
      const strategy = (args.optionalString('strategy') ?? 'RETAIN_FIRST').toUpperCase();
      if (!['RETAIN_FIRST', 'RETAIN_LAST', 'RETAIN_UNIQUE'].includes(strategy)) {
        throw args.error('strategy must be RETAIN_FIRST, RETAIN_LAST or RETAIN_UNIQUE');
      }
      return {
        name: 'DedupeResponseHeader',
        response(_ex, head) {
          for (const name of names) {
            const values = headerValues(head.headers, name);
            if (values.length < 2) continue;
            if (strategy === 'RETAIN_FIRST') head.headers[name] = values[0];
            else if (strategy === 'RETAIN_LAST') head.headers[name] = values[values.length - 1];
            else head.headers[name] = [...new Set(values)];
          }
        },
      };
    },
  },
  RequestSize: {
    fields: ['maxSize'],
    build(args, _context, features) {
      const raw = args.optionalString('maxSize') ?? '5MB';
      const size = parseDataSize(raw);
      if (size === undefined) throw args.error(`maxSize ${JSON.stringify(raw)} is not a size like 5000000 or 5MB`);
      features.maxBodySize = size;
      return undefined;
    },
  },
  PreserveHostHeader: {
    fields: [],
    build(_args, _context, features) {
      features.preserveHost = true;
      return undefined;
    },
  },
  TokenCheck: {
    // Positional arguments are all scopes (`TokenCheck=a,b`); `introspect` is named only (the expanded form).
    fields: ['scopes'],
    build(args, _context, features) {
      features.tokenIntrospect = args.boolean('introspect', false);
      const scopes = [...args.rest(), ...(args.rest().length > 0 ? [] : (args.list('scopes') ?? []))]
        .flatMap((s) => s.split(/\s+/))
        .filter((s) => s !== '');
      features.tokenScopes = scopes;
      return undefined;
    },
  },
  Public: {
    fields: [],
    build(_args, _context, features) {
      features.public = true;
      return undefined;
    },
  },
  Retry: {
    fields: ['retries', 'statuses', 'methods', 'series'],
    build(args, _context, features) {
      const statuses = new Set((args.list('statuses') ?? []).map((s) => parseStatus(s, args)));
      const seriesNames = args.list('series') ?? (statuses.size === 0 ? ['SERVER_ERROR'] : []);
      const series = new Set(
        seriesNames.map((s) => {
          const n = SERIES[s.toUpperCase()];
          if (n === undefined) throw args.error(`series ${s} is not one of ${Object.keys(SERIES).join(', ')}`);
          return n;
        }),
      );
      const duration = (name: string, fallback: number): number => {
        const v = args.optionalString(name);
        if (v === undefined) return fallback;
        const ms = parseDuration(v);
        if (ms === undefined) throw args.error(`${name} ${JSON.stringify(v)} is not a duration like 10ms`);
        return ms;
      };
      const factor = Number(args.optionalString('factor') ?? '2');
      if (!(factor >= 1)) throw args.error('backoff factor must be at least 1');
      features.retry = {
        retries: args.integer('retries', 3, 0),
        statuses,
        series,
        methods: new Set((args.list('methods') ?? IDEMPOTENT).map((m) => m.toUpperCase())),
        firstBackoffMs: duration('firstBackoff', 0),
        maxBackoffMs: duration('maxBackoff', 0),
        factor,
      };
      return undefined;
    },
  },
  CircuitBreaker: {
    fields: ['name', 'fallbackUri'],
    build(args, context, features) {
      const name = args.optionalString('name') ?? context.routeId;
      const fallback = args.optionalString('fallbackUri');
      if (fallback !== undefined && !/^forward:\//.test(fallback)) {
        throw args.error('fallbackUri must be forward:/path (the path is routed again by the gateway)');
      }
      const settings = {
        ...(args.has('slidingWindowSize') ? { slidingWindowSize: args.integer('slidingWindowSize', 100, 1) } : {}),
        ...(args.has('minimumNumberOfCalls')
          ? { minimumNumberOfCalls: args.integer('minimumNumberOfCalls', 100, 1) }
          : {}),
        ...(args.has('failureRateThreshold')
          ? { failureRateThreshold: args.integer('failureRateThreshold', 50, 1) }
          : {}),
        ...(args.has('waitDurationInOpenState')
          ? { waitDurationInOpenStateMs: parseDuration(args.string('waitDurationInOpenState')) ?? 60_000 }
          : {}),
      };
      const breaker = context.circuitBreaker(
        name,
        () => new CircuitBreaker({ name, settings, logger: context.logger, now: context.now }),
      );
      features.circuitBreaker = {
        breaker,
        fallbackPath: fallback?.slice('forward:'.length),
        statusCodes: new Set((args.list('statusCodes') ?? []).map((s) => parseStatus(s, args))),
      };
      return undefined;
    },
  },
  RequestRateLimiter: {
    fields: ['replenishRate', 'burstCapacity', 'requestedTokens'],
    build(args, context) {
      const replenishRate = args.integer('replenishRate', 1, 1);
      const burstCapacity = args.integer('burstCapacity', replenishRate, 0);
      const requestedTokens = args.integer('requestedTokens', 1, 1);
      const resolve = keyResolver(args.optionalString('keyResolver') ?? 'principal', args);
      const denyEmptyKey = args.boolean('denyEmptyKey', true);
      const fixed: [string, string][] = [
        ['x-ratelimit-replenish-rate', String(replenishRate)],
        ['x-ratelimit-burst-capacity', String(burstCapacity)],
        ['x-ratelimit-requested-tokens', String(requestedTokens)],
      ];
      const keyOf = (ex: Exchange): string | undefined => {
        const key = resolve(ex);
        if (key !== undefined && key !== '') return key;
        if (!denyEmptyKey) return undefined;
        // Spring's default (deny-empty-key, 403): a limit keyed by client cannot count an unknown client.
        throw new GatewayError('forbidden', 'the rate limit of this route needs a key the request does not carry', {
          route: ex.routeId,
        });
      };
      // Spring's headers; an unanswered shared store reports -1 remaining, as Spring's fail-open answer does.
      const apply = (ex: Exchange, verdict: Verdict | undefined): void => {
        const headers: [string, string][] = [['x-ratelimit-remaining', String(verdict?.remaining ?? -1)], ...fixed];
        if (verdict !== undefined && !verdict.allowed) {
          throw new GatewayError('too_many_requests', `rate limit of ${replenishRate} requests/s exceeded`, {
            route: ex.routeId,
            headers: Object.fromEntries(headers),
          });
        }
        ex.responseHeaders.push(...headers);
      };
      const shared = context.sharedBuckets;
      if (shared !== undefined) {
        const limits = { replenishRate, burstCapacity, requestedTokens };
        // Buckets per route and key, so two routes limiting the same client do not drain each other.
        const prefix = `${context.routeId}.`;
        return {
          name: 'RequestRateLimiter',
          async requestAsync(ex) {
            const key = keyOf(ex);
            if (key === undefined) return;
            apply(ex, await shared.take(prefix + key, limits));
          },
        };
      }
      const limiter = context.rateLimiter(
        `${context.routeId}:${replenishRate}:${burstCapacity}:${requestedTokens}`,
        () => new TokenBucketLimiter({ replenishRate, burstCapacity, requestedTokens, now: context.now }),
      );
      return {
        name: 'RequestRateLimiter',
        request(ex) {
          const key = keyOf(ex);
          if (key === undefined) return;
          apply(ex, limiter.take(key));
        },
      };
    },
  },
};

export const FILTER_NAMES: readonly string[] = Object.keys(FACTORIES);

export function emptyFeatures(): RouteFeatures {
  return {
    maxBodySize: undefined,
    preserveHost: false,
    retry: undefined,
    circuitBreaker: undefined,
    tokenScopes: undefined,
    tokenIntrospect: false,
    public: false,
  };
}

export function buildFilter(
  definition: ComponentDefinition,
  context: FilterContext,
  features: RouteFeatures,
): GatewayFilter | undefined {
  const factory = FACTORIES[definition.name];
  const where = `route ${context.routeId}: filter ${definition.name}`;
  if (factory === undefined) {
    throw new Args(definition, [], where).error(`unknown filter (known: ${FILTER_NAMES.join(', ')})`);
  }
  return factory.build(new Args(definition, factory.fields, where), context, features);
}
