import { createLogger } from '@trellis/kit';
import type { AuthInfo } from '@trellis/clients/security';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import { readRouteDefinition } from '../../src/routing/definition.ts';
import type { Exchange, HeaderMap, ResponseHead } from '../../src/routing/exchange.ts';
import { compilePathPattern } from '../../src/routing/path-pattern.ts';
import { RouteState, RouteTable, type Match } from '../../src/routing/table.ts';

const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });

function table(routes: unknown[], options: { now?: () => number; random?: () => number; tokens?: boolean } = {}) {
  return RouteTable.compile(
    routes.map((r) => readRouteDefinition(r)),
    {
      requireTokens: false,
      canVerifyTokens: options.tokens ?? false,
      canDiscover: true,
      logger,
      now: options.now ?? Date.now,
      ...(options.random === undefined ? {} : { random: options.random }),
      state: new RouteState(),
    },
  );
}

function request(
  path: string,
  more: { method?: string; headers?: HeaderMap; remoteAddress?: string; now?: number; query?: string } = {},
) {
  return {
    method: more.method ?? 'GET',
    path,
    query: more.query ?? '',
    headers: more.headers ?? {},
    remoteAddress: more.remoteAddress ?? '127.0.0.1',
    now: more.now ?? Date.now(),
  };
}

const route = (id: string, predicates: unknown[], filters: unknown[] = [], extra: object = {}) => ({
  id,
  uri: 'http://localhost:1',
  predicates,
  filters,
  ...extra,
});

function exchange(match: Match, auth?: AuthInfo): Exchange {
  return {
    request: match.view,
    routeId: match.route.id,
    vars: match.vars,
    path: match.view.path,
    query: match.view.query,
    headers: { ...match.view.headers },
    responseHeaders: [],
    auth,
  };
}

function runFilters(match: Match, head: ResponseHead = { status: 200, headers: {} }, auth?: AuthInfo) {
  const ex = exchange(match, auth);
  for (const f of match.route.requestFilters) f.request?.(ex);
  for (const f of match.route.responseFilters) f.response?.(ex, head);
  return { ex, head };
}

function mustMatch(t: RouteTable, req: ReturnType<typeof request>): Match {
  const m = t.match(req);
  if (m === undefined) throw new Error(`no match for ${req.path}`);
  return m;
}

describe('Spring path patterns', () => {
  it('captures {segment}, matches /** including the bare prefix, and a trailing slash by default', () => {
    expect(compilePathPattern('/red/{segment}').match('/red/blue')).toEqual({ segment: 'blue' });
    expect(compilePathPattern('/red/{segment}').match('/red/blue/')).toEqual({ segment: 'blue' });
    expect(compilePathPattern('/red/{segment}', false).match('/red/blue/')).toBeUndefined();
    expect(compilePathPattern('/red/{segment}').match('/red/blue/green')).toBeUndefined();
    const any = compilePathPattern('/product-composite/**');
    expect(any.match('/product-composite')).toEqual({});
    expect(any.match('/product-composite/1/x')).toEqual({});
    expect(any.match('/product-compositex')).toBeUndefined();
    expect(compilePathPattern('/files/{*rest}').match('/files/a/b')).toEqual({ rest: '/a/b' });
    expect(compilePathPattern('/a/*.json').match('/a/x.json')).toEqual({});
    expect(compilePathPattern('/v{n:\\d+}/x').match('/v2/x')).toEqual({ n: '2' });
  });

  it('matches patterns without variables or globs (compared as strings, not by regex) as Spring does', () => {
    const cases: [string, boolean, string[], string[]][] = [
      ['/product/**', true, ['/product', '/product/', '/product/1', '/product/1/x'], ['/productx', '/', '/prod']],
      ['/**', true, ['/', '/a', '/a/b/'], []],
      ['/', true, ['/'], ['/a', '//']],
      ['/health', true, ['/health', '/health/'], ['/health/x', '/healthy', '/']],
      ['/health', false, ['/health'], ['/health/', '/healthy']],
      ['/health/', true, ['/health/'], ['/health', '/health/x']],
      ['/a.b/c+d', true, ['/a.b/c+d', '/a.b/c+d/'], ['/aXb/c+d', '/a.b/cd']],
    ];
    for (const [source, trailing, matching, other] of cases) {
      const pattern = compilePathPattern(source, trailing);
      for (const path of matching) expect([source, path, pattern.match(path)]).toEqual([source, path, {}]);
      for (const path of other) expect([source, path, pattern.match(path)]).toEqual([source, path, undefined]);
    }
  });
});

describe('predicates', () => {
  it('Path with several patterns and the first matching route in order', () => {
    const t = table([
      route('late', ['Path=/a/**'], [], { order: 10 }),
      route('early', ['Path=/b/**,/a/special'], [], { order: -1 }),
      route('default', ['Path=/a/**']),
    ]);
    expect(t.match(request('/a/special'))?.route.id).toBe('early');
    expect(t.match(request('/a/other'))?.route.id).toBe('default');
    expect(t.match(request('/c'))).toBeUndefined();
    expect(t.routes.map((r) => r.id)).toEqual(['early', 'default', 'late']);
  });

  it('Host with ** and {sub}, with or without the port', () => {
    const t = table([route('h', ['Host=**.example.org,{sub}.test.io:8080'])]);
    expect(t.match(request('/', { headers: { host: 'a.b.example.org' } }))).toBeDefined();
    expect(t.match(request('/', { headers: { host: 'www.example.org:9000' } }))).toBeDefined();
    expect(t.match(request('/', { headers: { host: 'example.com' } }))).toBeUndefined();
    expect(t.match(request('/', { headers: { host: 'api.test.io:8080' } }))?.vars).toEqual({ sub: 'api' });
    expect(t.match(request('/', { headers: { host: 'api.test.io:8081' } }))).toBeUndefined();
  });

  it('Method, Header, Query and Cookie with and without regular expressions', () => {
    const t = table([
      route('m', ['Method=POST,PUT']),
      route('h', ['Header=X-Request-Id, \\d+']),
      route('q', ['Query=red, gree.']),
      route('qp', ['Query=green']),
      route('c', ['Cookie=chocolate, ch.p']),
    ]);
    expect(t.match(request('/', { method: 'PUT' }))?.route.id).toBe('m');
    expect(t.match(request('/', { headers: { 'x-request-id': '123' } }))?.route.id).toBe('h');
    expect(t.match(request('/', { headers: { 'x-request-id': '12a' } }))).toBeUndefined();
    expect(t.match(request('/', { query: 'red=greet' }))?.route.id).toBe('q');
    expect(t.match(request('/', { query: 'red=greenish' }))).toBeUndefined();
    expect(t.match(request('/', { query: 'green=' }))?.route.id).toBe('qp');
    expect(t.match(request('/', { headers: { cookie: 'a=1; chocolate=chip' } }))?.route.id).toBe('c');
    expect(t.match(request('/', { headers: { cookie: 'chocolate=chips' } }))).toBeUndefined();
  });

  it('After, Before and Between with Spring ZonedDateTime values', () => {
    const t = table([
      route('after', ['After=2017-01-20T17:42:47.789-07:00[America/Denver]', 'Path=/after']),
      route('before', ['Before=2017-01-20T17:42:47.789-07:00[America/Denver]', 'Path=/before']),
      route('between', [
        'Between=2017-01-20T17:42:47.789-07:00[America/Denver], 2017-01-21T17:42:47.789-07:00[America/Denver]',
      ]),
    ]);
    const at = Date.parse('2017-01-21T12:00:00Z');
    expect(t.match(request('/after', { now: at }))?.route.id).toBe('after');
    expect(t.match(request('/before', { now: at }))?.route.id).toBe('between');
    expect(t.match(request('/before', { now: Date.parse('2016-01-01T00:00:00Z') }))?.route.id).toBe('before');
    expect(t.match(request('/x', { now: at }))?.route.id).toBe('between');
    expect(t.match(request('/x', { now: Date.parse('2018-01-01T00:00:00Z') }))).toBeUndefined();
  });

  it('RemoteAddr with IPv4 and IPv6 CIDR blocks', () => {
    const t = table([route('r', ['RemoteAddr=192.168.1.1/24, 10.0.0.7, fd00::/8'])]);
    expect(t.match(request('/', { remoteAddress: '192.168.1.200' }))).toBeDefined();
    expect(t.match(request('/', { remoteAddress: '192.168.2.1' }))).toBeUndefined();
    expect(t.match(request('/', { remoteAddress: '10.0.0.7' }))).toBeDefined();
    expect(t.match(request('/', { remoteAddress: 'fd12::1' }))).toBeDefined();
  });

  it('Weight splits a group by weight, once per request', () => {
    let r = 0;
    const t = table([route('high', ['Weight=group1, 8']), route('low', ['Weight=group1, 2'])], { random: () => r });
    r = 0.5;
    expect(t.match(request('/'))?.route.id).toBe('high');
    r = 0.85;
    expect(t.match(request('/'))?.route.id).toBe('low');
  });

  it('refuses an unknown predicate naming the route', () => {
    expect(() => table([route('bad', ['Paht=/x'])])).toThrow(/route bad: predicate Paht: unknown predicate/);
    expect(() => table([route('bad', ['RemoteAddr=nope'])])).toThrow(GatewayError);
  });
});

describe('filters', () => {
  it('StripPrefix, PrefixPath, RewritePath with a named group as Spring writes it, SetPath with {segment}', () => {
    const t = table([
      route('strip', ['Path=/strip/**'], ['StripPrefix=2']),
      route('prefix', ['Path=/prefix/**'], ['PrefixPath=/api']),
      route('rewrite', ['Path=/red/**'], ['RewritePath=/red/?(?<segment>.*), /$\\{segment}']),
      route('set', ['Path=/eureka/api/{segment}'], ['SetPath=/eureka/{segment}']),
    ]);
    expect(runFilters(mustMatch(t, request('/strip/a/b/c'))).ex.path).toBe('/b/c');
    expect(runFilters(mustMatch(t, request('/strip/a'))).ex.path).toBe('/');
    expect(runFilters(mustMatch(t, request('/prefix/x'))).ex.path).toBe('/api/prefix/x');
    expect(runFilters(mustMatch(t, request('/red/blue/green'))).ex.path).toBe('/blue/green');
    expect(runFilters(mustMatch(t, request('/eureka/api/apps'))).ex.path).toBe('/eureka/apps');
  });

  it('adds, sets and removes request and response headers, with URI variables in values', () => {
    const t = table([
      route(
        'h',
        ['Path=/h/{segment}'],
        [
          'AddRequestHeader=X-Request-Red, Blue-{segment}',
          'SetRequestHeader=X-Set, fixed',
          'RemoveRequestHeader=X-Secret',
          'AddResponseHeader=X-Response-Red, Blue',
          'SetResponseHeader=X-Powered-By, gateway',
          'RemoveResponseHeader=Server',
        ],
      ),
    ]);
    const m = mustMatch(t, request('/h/one', { headers: { 'x-secret': 's', 'x-set': 'old', 'x-request-red': 'a' } }));
    const { ex, head } = runFilters(m, { status: 200, headers: { server: 'up', 'x-powered-by': 'x' } });
    expect(ex.headers['x-request-red']).toEqual(['a', 'Blue-one']);
    expect(ex.headers['x-set']).toBe('fixed');
    expect(ex.headers['x-secret']).toBeUndefined();
    expect(head.headers).toEqual({ 'x-response-red': 'Blue', 'x-powered-by': 'gateway' });
  });

  it('SetStatus by number or name, SecureHeaders without overriding the upstream, DedupeResponseHeader', () => {
    const t = table([
      route('s', ['Path=/s'], ['SetStatus=401']),
      route('n', ['Path=/n'], ['SetStatus=I_AM_A_TEAPOT']),
      route('sec', ['Path=/sec'], ['SecureHeaders']),
      route('d', ['Path=/d'], ['DedupeResponseHeader=Access-Control-Allow-Credentials Access-Control-Allow-Origin']),
      route('u', ['Path=/u'], ['DedupeResponseHeader=X-A, RETAIN_UNIQUE']),
    ]);
    expect(runFilters(mustMatch(t, request('/s'))).head.status).toBe(401);
    expect(runFilters(mustMatch(t, request('/n'))).head.status).toBe(418);
    const sec = runFilters(mustMatch(t, request('/sec')), {
      status: 200,
      headers: { 'x-frame-options': 'SAMEORIGIN' },
    });
    expect(sec.head.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(sec.head.headers['strict-transport-security']).toBe('max-age=631138519');
    expect(sec.head.headers['x-content-type-options']).toBe('nosniff');
    const d = runFilters(mustMatch(t, request('/d')), {
      status: 200,
      headers: {
        'access-control-allow-origin': ['https://a', 'https://b'],
        'access-control-allow-credentials': ['true', 'true'],
      },
    });
    expect(d.head.headers['access-control-allow-origin']).toBe('https://a');
    expect(d.head.headers['access-control-allow-credentials']).toBe('true');
    const u = runFilters(mustMatch(t, request('/u')), { status: 200, headers: { 'x-a': ['1', '2', '1'] } });
    expect(u.head.headers['x-a']).toEqual(['1', '2']);
  });

  it('RequestRateLimiter: a token bucket per client, 429 with X-RateLimit headers, refilled over time', () => {
    let now = 0;
    const t = table(
      [
        route(
          'rl',
          ['Path=/rl'],
          [
            {
              name: 'RequestRateLimiter',
              args: {
                'redis-rate-limiter.replenishRate': 1,
                'redis-rate-limiter.burstCapacity': 2,
                'key-resolver': '#{@principalNameKeyResolver}',
              },
            },
          ],
        ),
        route('ip', ['Path=/ip'], ['RequestRateLimiter=1, 1, 1']),
      ],
      { now: () => now },
    );
    const reader = { clientId: 'reader', subject: 'reader', scopes: new Set<string>(), claims: {} } as AuthInfo;
    const other = { ...reader, clientId: 'other' } as AuthInfo;
    const take = (auth?: AuthInfo) => {
      const m = mustMatch(t, request('/rl'));
      const ex = exchange(m, auth);
      for (const f of m.route.requestFilters) f.request?.(ex);
      return ex.responseHeaders;
    };
    expect(take(reader)).toContainEqual(['x-ratelimit-remaining', '1']);
    expect(take(reader)).toContainEqual(['x-ratelimit-remaining', '0']);
    let refused: unknown;
    try {
      take(reader);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).status).toBe(429);
    expect((refused as GatewayError).headers).toMatchObject({
      'x-ratelimit-remaining': '0',
      'x-ratelimit-replenish-rate': '1',
      'x-ratelimit-burst-capacity': '2',
      'x-ratelimit-requested-tokens': '1',
    });
    expect(take(other)).toContainEqual(['x-ratelimit-remaining', '1']);
    now += 1000;
    expect(take(reader)).toContainEqual(['x-ratelimit-remaining', '0']);
    // Spring's deny-empty-key: without a client the limit cannot be applied.
    expect(() => take(undefined)).toThrow(/needs a key/);
  });

  it('sets forwarding features and refuses contradictions', () => {
    const t = table(
      [
        route(
          'f',
          ['Path=/f'],
          [
            'RequestSize=5KB',
            'PreserveHostHeader',
            'Retry=2, BAD_GATEWAY, GET',
            'TokenCheck=product:read,product:write',
            { name: 'CircuitBreaker', args: { name: 'cb', fallbackUri: 'forward:/fallback' } },
          ],
        ),
      ],
      { tokens: true },
    );
    const f = t.get('f');
    expect(f?.features.maxBodySize).toBe(5120);
    expect(f?.features.preserveHost).toBe(true);
    expect(f?.features.retry?.retries).toBe(2);
    expect([...(f?.features.retry?.statuses ?? [])]).toEqual([502]);
    expect(f?.token?.scopes).toEqual(['product:read', 'product:write']);
    expect(f?.features.circuitBreaker?.fallbackPath).toBe('/fallback');
    expect(() => table([route('t', ['Path=/t'], ['TokenCheck=a'])])).toThrow(/needs an issuer/);
    expect(() => table([route('t', ['Path=/t'], ['TokenCheck=a', 'Public'])], { tokens: true })).toThrow(/contradict/);
    expect(() => table([route('t', ['Path=/t'], ['Nope=1'])])).toThrow(/unknown filter/);
  });
});
