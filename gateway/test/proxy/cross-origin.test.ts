// The CORS step's choice of policy: a global one first for preflights, the route's first for actual requests.
import type http from 'node:http';
import { createLogger } from '@trellis/kit';
import { describe, expect, it } from 'vitest';
import { crossOrigin, PREFLIGHT_ANSWERED } from '../../src/proxy/cross-origin.ts';
import { readGlobalCors } from '../../src/routing/cors.ts';
import { readRouteDefinition } from '../../src/routing/definition.ts';
import type { HeaderMap } from '../../src/routing/exchange.ts';
import { RouteState, RouteTable } from '../../src/routing/table.ts';

const logger = createLogger({ name: 'test', level: 'silent', format: 'json' });

const table = RouteTable.compile(
  [
    readRouteDefinition({ id: 'plain', uri: 'http://127.0.0.1:1', predicates: ['Path=/app/**'] }),
    readRouteDefinition({
      id: 'own-policy',
      uri: 'http://127.0.0.1:1',
      predicates: ['Path=/app-own/**'],
      metadata: { cors: { allowedOrigins: 'https://route.example', allowedMethods: ['PUT'] } },
    }),
  ],
  {
    globalCors: readGlobalCors({
      'cors-configurations': { '[/**]': { allowedOrigins: 'https://global.example', allowedMethods: ['GET', 'PUT'] } },
    }),
    requireTokens: false,
    canVerifyTokens: false,
    canDiscover: false,
    logger,
    now: Date.now,
    state: new RouteState(),
  },
);

/** A request as crossOrigin reads it, and a response that records the head written. */
function exchange(method: string, path: string, headers: HeaderMap) {
  const req = { method, headers: { host: 'gw.example', ...headers } } as unknown as http.IncomingMessage;
  const written: { status?: number; headers?: HeaderMap } = {};
  const res = {
    writeHead(status: number, head: HeaderMap) {
      written.status = status;
      written.headers = head;
      return { end: () => undefined };
    },
  } as unknown as http.ServerResponse;
  const match = table.match({ method, path, query: '', headers: req.headers, remoteAddress: '127.0.0.1', now: 0 });
  return { run: () => crossOrigin(req, res, false, table, match, path), written, match };
}

describe('crossOrigin', () => {
  it('leaves same-origin requests alone', () => {
    const { run, written } = exchange('OPTIONS', '/app/x', {
      origin: 'http://gw.example',
      'access-control-request-method': 'PUT',
    });
    expect(run()).toBeUndefined();
    expect(written.status).toBeUndefined();
  });

  it('answers a preflight under the global policy even where no route matches', () => {
    const { run, written } = exchange('OPTIONS', '/nowhere', {
      origin: 'https://global.example',
      'access-control-request-method': 'GET',
    });
    expect(run()).toBe(PREFLIGHT_ANSWERED);
    expect(written.status).toBe(200);
    expect(written.headers?.['access-control-allow-origin']).toBe('https://global.example');
  });

  it("answers a preflight from the global policy before the route's own", () => {
    const { run } = exchange('OPTIONS', '/app-own/x', {
      origin: 'https://route.example',
      'access-control-request-method': 'PUT',
    });
    expect(run).toThrow(/invalid CORS request/);
  });

  it("holds an actual request to its route's own policy first", () => {
    const allowed = exchange('PUT', '/app-own/x', { origin: 'https://route.example' });
    expect(allowed.run()).toEqual({ policy: allowed.match?.route.cors, origin: 'https://route.example' });
    const refused = exchange('PUT', '/app-own/x', { origin: 'https://global.example' });
    expect(refused.run).toThrow(/not allowed by the CORS policy/);
  });

  it('leaves a request no route matches to the caller (404), whatever its origin', () => {
    expect(exchange('GET', '/nowhere', { origin: 'https://evil.example' }).run()).toBeUndefined();
  });
});
