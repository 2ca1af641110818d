// Path confusion at the edge: every variant is sent on a raw socket (no client normalizes it first) to a gateway
// whose `/admin/**` route needs a token and whose other routes are open, in front of a real upstream that records
// what it received. The upstream resolves what it got as WHATWG URL does (dots, %2e, `\`), as many frameworks do, so
// "it never saw /admin" means no upstream could have served the admin path.
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  deadPort,
  send,
  startTestGateway,
  startUpstream,
  type RawAnswer,
  type TestGateway,
  type Upstream,
} from './helpers.ts';

const get = (port: number, target: string, headers = ''): Promise<RawAnswer> =>
  send(port, `GET ${target} HTTP/1.1\r\nhost: gw.localhost\r\nconnection: close\r\n${headers}\r\n`);

/** The path a normalizing upstream would serve for a request target. */
function resolved(target: string): string {
  return decodeURIComponent(new URL(target, 'http://upstream.test').pathname);
}

describe('path normalization: the gateway decides on the path the upstream receives', () => {
  let upstream: Upstream;
  let gateway: TestGateway;
  /** Raw request targets the upstream received, upgrades included. */
  const seen: string[] = [];
  const sawAdmin = (): string[] => seen.filter((t) => resolved(t).startsWith('/admin'));

  beforeAll(async () => {
    upstream = await startUpstream((req: http.IncomingMessage, res: http.ServerResponse) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url }));
    });
    upstream.server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      seen.push(req.url ?? '');
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
    });
    const jwks = await deadPort();
    gateway = await startTestGateway(
      `
spring.cloud.gateway.routes:
- id: admin
  uri: ${upstream.url}
  predicates: [Path=/admin/**]
  filters: [TokenCheck=admin]
- id: public
  uri: ${upstream.url}
  predicates: [Path=/public/**]
- id: strip
  uri: ${upstream.url}
  predicates: [Path=/strip/**]
  filters: [StripPrefix=1]
- id: rewrite
  uri: ${upstream.url}
  predicates: [Path=/rw/**]
  filters: ['RewritePath=/rw/(?<segment>.*), /public/\${segment}']
- id: join
  uri: ${upstream.url}
  predicates: [Path=/join/**]
  filters: ['RewritePath=/join/(?<a>[^/]*)-(?<b>.*), /public/\${a}\${b}']
- id: encode
  uri: ${upstream.url}
  predicates: [Path=/enc/**]
  filters: ['RewritePath=/enc/(?<s>.*), /public/%\${s}']
- id: setpath
  uri: ${upstream.url}
  predicates: ['Path=/sp/{seg}']
  filters: ['SetPath=/public/{seg}/x']
- id: prefix
  uri: ${upstream.url}
  predicates: [Path=/pp/**]
  filters: [PrefixPath=/public]
`,
      {
        argv: [
          '--issuer',
          'https://issuer.test',
          '--audience',
          'api',
          '--jwks-uri',
          `http://127.0.0.1:${jwks}/jwks`,
          '--default-auth',
          'public',
        ],
      },
    );
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('forwards the normal path and leaves the query as sent, dots and all', async () => {
    const res = await get(gateway.port, '/public/./a/%62.txt?next=/../admin/x&q=%2e%2e');
    expect(res.status).toBe(200);
    expect(seen).toEqual(['/public/a/b.txt?next=/../admin/x&q=%2e%2e']);
    const query = await get(gateway.port, '/public/%2e/x?/../../admin/x');
    expect(query.status).toBe(200);
    expect(seen[1]).toBe('/public/x?/../../admin/x');
  });

  // Each resolves to /admin/x: the admin route (and its token check) must be the one that decides.
  const climbing = [
    '/public/../admin/x',
    '/public/%2e%2e/admin/x',
    '/public/%2E%2E/admin/x',
    '/public/.%2e/admin/x',
    '/public/%2e./admin/x',
    '/public/./../admin/x',
    '/public/x/../../admin/x',
    '/public/%2e%2e/admin/x?token=none',
    '//admin/x',
    '/public//..//admin/x',
    '/%61dmin/x',
    '/strip/%2e%2e/admin/x',
    '/strip/public/../../admin/x',
    '/rw/%2e%2e/admin/x',
    '/rw/../admin/x',
  ];
  it.each(climbing)('routes %s as /admin/x, where the token check answers 401', async (target) => {
    const res = await get(gateway.port, target);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthorized', route: 'admin' });
    expect(seen).toEqual([]);
  });

  // Ambiguous to some upstream (Tomcat, Spring, node frameworks): refused with the reason, never forwarded.
  const ambiguous: [string, RegExp][] = [
    ['/public/..%2fadmin/x', /encoded slash/],
    ['/public/..%2Fadmin/x', /encoded slash/],
    ['/public/%2e%2e%2fadmin/x', /encoded slash/],
    ['/public/..%5cadmin/x', /encoded backslash/],
    ['/public/..\\admin/x', /backslash/],
    ['/public/..;/admin/x', /semicolon/],
    ['/public;jsessionid=1/x', /semicolon/],
    ['/public/%3b/x', /encoded semicolon/],
    ['/public/%252e%252e/admin/x', /encoded percent/],
    ['/public/%25/x', /encoded percent/],
    ['/public/%00/x', /control character/],
    ['/public/%0d%0aset-cookie:x/x', /control character/],
    ['/public/%c0%ae%c0%ae/admin/x', /not UTF-8/],
    ['/public/%2/x', /two hex digits/],
    ['/public/%zz/x', /two hex digits/],
    ['/../admin/x', /above the root/],
    ['/public/../../admin/x', /above the root/],
    ['/public/%2e%2e/%2e%2e/admin/x', /above the root/],
    ['/public/x#/../../admin/x', /fragment/],
    ['/pp/%2e%2e/%2e%2e/admin/x', /above the root/],
    ['http://gw.localhost:8080/public/x', /must be the Host header/],
    ['http://gw.localhost/public/%2e%2e/%2e%2e/admin/x', /above the root/],
    ['http://gw.localhost/public/..%2fadmin/x', /encoded slash/],
    ['ftp://gw.localhost/public/x', /absolute http/],
    ['*', /\* and authority forms are refused/],
  ];
  // A target naming a host the listener does not answer, or user info, is refused before the gateway's own screen, by
  // the Host rule every loopback server applies (an absolute-form target's authority counts as its Host).
  it.each(['http://other.test/public/x', 'http://user@gw.localhost/public/x'])(
    'refuses %s with 421 before the screen',
    async (target) => {
      const res = await get(gateway.port, target);
      expect(res.status).toBe(421);
      expect(res.body).toContain('--allowed-hosts');
      expect(seen).toEqual([]);
    },
  );

  it.each(ambiguous)('refuses %s with 400 and the reason', async (target, reason) => {
    const res = await get(gateway.port, target);
    expect(res.status).toBe(400);
    const body = JSON.parse(res.body) as { error: string; message: string };
    expect(body.error).toBe('bad_request');
    expect(body.message).toMatch(reason);
    expect(seen).toEqual([]);
  });

  it('accepts an absolute-form target (RFC 9112) whose host is the Host header, routing on its normal path', async () => {
    const plain = await get(gateway.port, 'http://gw.localhost/public/a/./b?q=1');
    expect(plain.status).toBe(200);
    const cased = await get(gateway.port, 'HTTP://GW.LOCALHOST/public/c');
    expect(cased.status).toBe(200);
    const root = await get(gateway.port, 'http://gw.localhost');
    expect(root.status).toBe(404);
    // Normalized like any other target: the climb lands on /admin, which needs a token.
    const climb = await get(gateway.port, 'http://gw.localhost/public/%2e%2e/admin/x');
    expect(climb.status).toBe(401);
    expect(seen).toEqual(['/public/a/b?q=1', '/public/c']);
  });

  it('SetPath builds from the normal path: a {seg} of %2e%2e cannot climb', async () => {
    const res = await get(gateway.port, '/sp/%2e%2e');
    // `/sp/..` is `/`, which no route matches.
    expect(res.status).toBe(404);
    expect(sawAdmin()).toEqual([]);
    expect(seen).toEqual([]);
    const ok = await get(gateway.port, '/sp/%7Euser');
    expect(ok.status).toBe(200);
    expect(seen).toEqual(['/public/~user/x']);
  });

  it('StripPrefix, RewritePath and PrefixPath forward the normal path', async () => {
    expect((await get(gateway.port, '/strip/public/./a/%62')).status).toBe(200);
    expect((await get(gateway.port, '/rw/a/../b/%7e')).status).toBe(200);
    expect((await get(gateway.port, '/pp/a/./b')).status).toBe(200);
    expect(seen).toEqual(['/public/a/b', '/public/b/~', '/public/pp/a/b']);
  });

  it('refuses a rewrite that brings back a dot segment, an empty segment or an encoded slash', async () => {
    const dots = await get(gateway.port, '/join/.-./admin/x');
    expect(dots.status).toBe(400);
    expect(JSON.parse(dots.body)).toMatchObject({ error: 'bad_request', route: 'join' });
    expect((JSON.parse(dots.body) as { message: string }).message).toMatch(/rewrote the path.*dot segment/);
    const empty = await get(gateway.port, '/join/-/admin/x');
    expect(empty.status).toBe(400);
    expect((JSON.parse(empty.body) as { message: string }).message).toMatch(/empty segment/);
    const slash = await get(gateway.port, '/enc/2fadmin/x');
    expect(slash.status).toBe(400);
    expect((JSON.parse(slash.body) as { message: string }).message).toMatch(/encoded slash/);
    expect(seen).toEqual([]);
    // The same routes forward what stays normal.
    expect((await get(gateway.port, '/join/a-b')).status).toBe(200);
    expect((await get(gateway.port, '/enc/41')).status).toBe(200);
    expect(seen).toEqual(['/public/ab', '/public/A']);
  });

  it('decides a WebSocket upgrade on the normal path too', async () => {
    const upgrade = (target: string): Promise<RawAnswer> =>
      send(
        gateway.port,
        `GET ${target} HTTP/1.1\r\nhost: gw.localhost\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
    const climbing = await upgrade('/public/%2e%2e/admin/ws');
    expect(climbing.status).toBe(401);
    const ambiguous = await upgrade('/public/..%2fadmin/ws');
    expect(ambiguous.status).toBe(400);
    expect(ambiguous.body).toMatch(/encoded slash/);
    expect(seen).toEqual([]);
    const normal = await upgrade('/public/./ws');
    expect(normal.status).toBe(101);
    expect(seen).toEqual(['/public/ws']);
  });
});

describe('path normalization on the sample routes (config-repo/gateway.yml)', () => {
  let upstream: Upstream;
  let gateway: TestGateway;
  const seen: string[] = [];

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    // The sample file as shipped, every upstream pointed at the recorder; lb:// routes need a registry, so they go.
    const file = fileURLToPath(new URL('../../config-repo/gateway.yml', import.meta.url));
    const doc = parse(await readFile(file, 'utf8')) as {
      spring: { cloud: { gateway: { routes: { uri: string }[] } } };
    };
    const gw = doc.spring.cloud.gateway;
    gw.routes = gw.routes.filter((r) => !r.uri.startsWith('lb:'));
    gateway = await startTestGateway(stringify(doc), {
      env: { AUTH_SERVER_URL: upstream.url, REGISTRY_URL: upstream.url, CONFIG_SERVER_URL: upstream.url },
    });
  });
  afterAll(async () => {
    await gateway.stop();
    await upstream.close();
  });

  it.each([
    '/oauth2/%2e%2e/admin/clients',
    '/oauth2/../admin/clients',
    '/oauth2/.%2E/admin/clients',
    '/.well-known/%2e%2e/admin/clients',
    '/config/%2e%2e/admin/clients',
    '/eureka/api/%2e%2e/%2e%2e/admin/clients',
  ])('%s does not reach the auth server admin API', async (target) => {
    seen.length = 0;
    const res = await get(gateway.port, target);
    // The normal path is /admin/clients, which no sample route serves.
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'no_route', message: 'no route matches GET /admin/clients' });
    expect(seen).toEqual([]);
  });

  it('exposes the Eureka REST reads and the dashboard page of the registry, never its event streams', async () => {
    const reads: [string, string][] = [
      ['/eureka/api/apps', '/eureka/apps'],
      ['/eureka/api/apps/delta', '/eureka/apps/delta'],
      ['/eureka/api/apps/PRODUCT/i-1', '/eureka/apps/PRODUCT/i-1'],
      ['/eureka/api/instances/i-1', '/eureka/instances/i-1'],
      ['/eureka/api/vips/product', '/eureka/vips/product'],
      ['/eureka/api/svips/product', '/eureka/svips/product'],
      ['/eureka/api/v2/apps', '/eureka/v2/apps'],
      ['/eureka/api/v2/apps/PRODUCT', '/eureka/v2/apps/PRODUCT'],
      ['/eureka/api/v2/instances/i-1', '/eureka/v2/instances/i-1'],
      ['/eureka/api/v2/vips/product', '/eureka/v2/vips/product'],
      ['/eureka/api/v2/svips/product', '/eureka/v2/svips/product'],
      ['/eureka/web', '/'],
    ];
    for (const [target, forwarded] of reads) {
      seen.length = 0;
      expect((await get(gateway.port, target)).status, target).toBe(200);
      expect(seen, target).toEqual([forwarded]);
    }
    // Long-lived streams: each would hold one of the gateway's pooled connections to the registry for as long as
    // an anonymous caller likes.
    seen.length = 0;
    for (const target of [
      '/eureka/api/watch',
      '/eureka/api/v2/watch',
      '/eureka/api/watch/',
      '/eureka/api/apps/../watch',
      '/eureka/web/events',
      '/eureka/api/peerreplication/batch',
      '/eureka/api/',
    ]) {
      expect((await get(gateway.port, target)).status, target).toBe(404);
    }
    expect(seen).toEqual([]);
  });

  it('%2F and ..; on the open routes are refused, not forwarded', async () => {
    seen.length = 0;
    expect((await get(gateway.port, '/oauth2/..%2fadmin/clients')).status).toBe(400);
    expect((await get(gateway.port, '/oauth2/..;/admin/clients')).status).toBe(400);
    expect((await get(gateway.port, '/config/x/..%5c..%5cadmin')).status).toBe(400);
    expect(seen).toEqual([]);
    expect((await get(gateway.port, '/oauth2/./token')).status).toBe(200);
    expect(seen).toEqual(['/oauth2/token']);
  });
});
