// CORS as Spring's CorsConfiguration applies it at the edge: global policies by path pattern, and one per route.

// Global policies come from `globalcors`, a route's from its `metadata.cors`. The gateway answers preflights itself
// and, on actual requests, replaces the upstream's Access-Control-* headers rather than adding to them (duplicate CORS
// headers are a classic complaint).
import { GatewayError } from '../errors.ts';
import { scalarText } from './definition.ts';
import type { HeaderMap, ResponseHead } from './exchange.ts';
import { compilePathPattern, type PathPattern } from './path-pattern.ts';
import { compileLinear, MAX_PATTERN_LENGTH } from './safe-regex.ts';

export interface CorsPolicy {
  readonly allowedOrigins: readonly string[];
  readonly allowedOriginPatterns: readonly RegExp[];
  readonly allowedMethods: readonly string[];
  readonly allowedHeaders: readonly string[];
  readonly exposedHeaders: readonly string[];
  readonly allowCredentials: boolean;
  readonly maxAge: number | undefined;
}

export interface GlobalCors {
  readonly pattern: PathPattern;
  readonly policy: CorsPolicy;
}

function list(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'object') return Object.values(value).map(String);
  return (scalarText(value) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function pick(raw: Record<string, unknown>, name: string): unknown {
  const kebab = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return raw[name] ?? raw[kebab];
}

/**
 * `https://*.example.org` → a regex, as Spring's allowedOriginPatterns. Lower-cased, and tried on the lower-cased
 * Origin, because the linear-time engine (`*.*.*.*` would otherwise backtrack on a long Origin) has no i flag.
 */
function originPattern(pattern: string, where: string): RegExp {
  const body = pattern
    .toLowerCase()
    .split('*')
    .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  try {
    return compileLinear(`^${body}$`, '', 4 * MAX_PATTERN_LENGTH);
  } catch (err) {
    throw new GatewayError(
      'invalid_route',
      `${where}: allowedOriginPatterns ${JSON.stringify(pattern)}: ${(err as Error).message}`,
    );
  }
}

export function readCorsPolicy(raw: unknown, where: string): CorsPolicy {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new GatewayError('invalid_route', `${where}: a CORS configuration must be an object`);
  }
  const r = raw as Record<string, unknown>;
  const maxAge = pick(r, 'maxAge');
  const credentials = pick(r, 'allowCredentials');
  const policy: CorsPolicy = {
    allowedOrigins: list(pick(r, 'allowedOrigins')),
    allowedOriginPatterns: list(pick(r, 'allowedOriginPatterns')).map((p) => originPattern(p, where)),
    // Spring's defaults when a policy names no methods.
    allowedMethods: list(pick(r, 'allowedMethods') ?? ['GET', 'HEAD', 'POST']).map((m) => m.toUpperCase()),
    allowedHeaders: list(pick(r, 'allowedHeaders')).map((h) => h.toLowerCase()),
    exposedHeaders: list(pick(r, 'exposedHeaders')),
    allowCredentials: credentials === true || credentials === 'true',
    maxAge: maxAge === undefined ? undefined : Number(maxAge),
  };
  if (policy.allowCredentials && policy.allowedOrigins.includes('*')) {
    // The combination Spring refuses too: browsers reject it, and echoing every origin would grant everyone credentials.
    throw new GatewayError('invalid_route', `${where}: allowCredentials cannot be combined with allowedOrigins "*"`);
  }
  return policy;
}

/** `globalcors.cors-configurations` (or `corsConfigurations`): `{'[/**]': policy}`. */
export function readGlobalCors(raw: unknown): GlobalCors[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const r = raw as Record<string, unknown>;
  const configs = r['cors-configurations'] ?? r.corsConfigurations;
  if (typeof configs !== 'object' || configs === null) return [];
  return Object.entries(configs as Record<string, unknown>).map(([key, value]) => {
    // Spring Boot's map-key escaping: `'[/**]'`.
    const path = key.replace(/^\[(.*)\]$/, '$1');
    return { pattern: compilePathPattern(path), policy: readCorsPolicy(value, `globalcors ${path}`) };
  });
}

export function originAllowed(policy: CorsPolicy, origin: string): boolean {
  return (
    policy.allowedOrigins.includes('*') ||
    policy.allowedOrigins.some((o) => o.toLowerCase() === origin.toLowerCase()) ||
    policy.allowedOriginPatterns.some((p) => p.test(origin.toLowerCase()))
  );
}

function allowOrigin(policy: CorsPolicy, origin: string): string {
  return policy.allowedOrigins.includes('*') && !policy.allowCredentials ? '*' : origin;
}

/**
 * The answer to a preflight, or a 403 GatewayError when the policy refuses it.
 */
export function preflight(policy: CorsPolicy, headers: Readonly<HeaderMap>, routeId: string | undefined): HeaderMap {
  const origin = String(headers.origin ?? '');
  const method = String(headers['access-control-request-method'] ?? '').toUpperCase();
  const requested = String(headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  const anyHeader = policy.allowedHeaders.includes('*');
  const methodOk = policy.allowedMethods.includes('*') || policy.allowedMethods.includes(method);
  const headersOk = anyHeader || requested.every((h) => policy.allowedHeaders.includes(h));
  if (!originAllowed(policy, origin) || !methodOk || !headersOk) {
    throw new GatewayError('forbidden', 'invalid CORS request: origin, method or headers not allowed', {
      route: routeId,
    });
  }
  const out: HeaderMap = {
    'access-control-allow-origin': allowOrigin(policy, origin),
    'access-control-allow-methods': policy.allowedMethods.includes('*') ? method : policy.allowedMethods.join(','),
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  };
  if (requested.length > 0) out['access-control-allow-headers'] = requested.join(', ');
  if (policy.allowCredentials) out['access-control-allow-credentials'] = 'true';
  if (policy.maxAge !== undefined) out['access-control-max-age'] = String(policy.maxAge);
  return out;
}

/** Sets the CORS headers of an actual (non-preflight) response, replacing any the upstream sent. */
export function applyCors(policy: CorsPolicy, origin: string, head: ResponseHead): void {
  for (const name of Object.keys(head.headers)) if (name.startsWith('access-control-')) delete head.headers[name];
  head.headers['access-control-allow-origin'] = allowOrigin(policy, origin);
  if (policy.allowCredentials) head.headers['access-control-allow-credentials'] = 'true';
  if (policy.exposedHeaders.length > 0)
    head.headers['access-control-expose-headers'] = policy.exposedHeaders.join(', ');
  const vary = head.headers.vary;
  if (vary === undefined) head.headers.vary = 'Origin';
  else if (!String(vary).toLowerCase().includes('origin')) head.headers.vary = `${String(vary)}, Origin`;
}
