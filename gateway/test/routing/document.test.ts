import { readFileSync } from 'node:fs';
import { createLogger } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { readGatewayDocument } from '../../src/routing/document.ts';
import { RouteState, RouteTable } from '../../src/routing/table.ts';

const spring = readFileSync(new URL('../fixtures/spring-gateway.yml', import.meta.url), 'utf8');
const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });

describe('a Spring Cloud Gateway route file, read unchanged', () => {
  it('reads every route with placeholders resolved from the default profile', () => {
    const doc = readGatewayDocument(spring);
    expect(doc.routes.map((r) => r.id)).toEqual([
      'product-composite',
      'product-composite-swagger-ui',
      'oauth2-server',
      'oauth2-login',
      'oauth2-error',
      'eureka-api',
      'eureka-web-start',
      'eureka-web-other',
      'host_route_200',
      'host_route_418',
      'host_route_501',
      'rewrite_with_named_group',
    ]);
    // `${app.eureka-server}` from the file itself; the docker profile's value is not applied.
    expect(doc.routes.find((r) => r.id === 'eureka-api')?.uri).toBe('http://localhost:8761');
    expect(doc.routes[0]?.predicates).toEqual([{ name: 'Path', args: { _genkey_0: '/product-composite/**' } }]);
  });

  it('compiles into a table that routes as Spring does', () => {
    const doc = readGatewayDocument(spring);
    const table = RouteTable.compile(doc.routes, {
      requireTokens: false,
      canVerifyTokens: false,
      canDiscover: true,
      logger,
      now: Date.now,
      state: new RouteState(),
    });
    const match = (path: string, host = 'localhost:8080') =>
      table.match({ method: 'GET', path, query: '', headers: { host }, remoteAddress: '127.0.0.1', now: Date.now() });
    expect(match('/product-composite/1')?.route.target).toMatchObject({ lb: true, host: 'product-composite' });
    expect(match('/eureka/api/apps')?.route.id).toBe('eureka-api');
    expect(match('/eureka/api/apps')?.vars).toEqual({ segment: 'apps' });
    expect(match('/eureka/web')?.route.id).toBe('eureka-web-start');
    expect(match('/eureka/css/x.css')?.route.id).toBe('eureka-web-other');
    expect(match('/headerrouting', 'i.feel.lucky:8080')?.route.id).toBe('host_route_200');
    expect(match('/headerrouting', 'im.a.teapot:8080')?.route.id).toBe('host_route_418');
    expect(match('/headerrouting')?.route.id).toBe('host_route_501');
    const rewrite = table.get('rewrite_with_named_group');
    expect(rewrite?.features.retry).toMatchObject({ retries: 3, firstBackoffMs: 10, maxBackoffMs: 50, factor: 2 });
    expect(rewrite?.requestFilters.map((f) => f.name)).toEqual(['RewritePath', 'RequestRateLimiter']);
  });

  it('reads a top-level routes list, default filters, globalcors and httpclient timeouts', () => {
    const doc = readGatewayDocument(`
spring:
  cloud:
    gateway:
      default-filters:
      - AddResponseHeader=X-Edge, trellis
      globalcors:
        cors-configurations:
          '[/**]':
            allowedOrigins: "https://docs.spring.io"
            allowedMethods:
            - GET
      httpclient:
        connect-timeout: 1000
        response-timeout: 5s
`);
    expect(doc.defaultFilters).toEqual([
      { name: 'AddResponseHeader', args: { _genkey_0: 'X-Edge', _genkey_1: 'trellis' } },
    ]);
    expect(doc.globalCors[0]?.policy.allowedOrigins).toEqual(['https://docs.spring.io']);
    expect(doc.connectTimeoutMs).toBe(1000);
    expect(doc.responseTimeoutMs).toBe(5000);
    expect(readGatewayDocument('routes:\n- id: a\n  uri: http://x:1\n  predicates: [Path=/a]\n').routes[0]?.id).toBe(
      'a',
    );
  });

  it('names the route and the problem of an invalid file', () => {
    expect(() => readGatewayDocument('routes:\n- id: a\n')).toThrow('route a: uri is required');
    expect(() => readGatewayDocument('routes:\n- {id: a, uri: x}\n- {id: a, uri: x}\n')).toThrow('defined twice');
    expect(() => readGatewayDocument('routes: [\n')).toThrow(/not valid YAML/);
  });
});
