// Request hygiene at the edge, through real sockets (raw ones for what a client library would refuse to send): every
// refusal carries its reason and never reaches the upstream, which records every request it is handed.
import { once } from 'node:events';
import net from 'node:net';
import { loadSettings, SettingsError } from '@trellis/kit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gatewayConfig, gatewaySettings } from '../src/config.ts';
import { send, startTestGateway, startUpstream, until, type TestGateway, type Upstream } from './helpers.ts';

interface Seen {
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  /** Whether the whole request (body included) arrived. */
  complete: boolean;
}

const PROXY_SECRET = 'gateway-proxy-secret-0123456789';

const json = (body: string): { error: string; message: string; route?: string } =>
  JSON.parse(body) as { error: string; message: string; route?: string };

describe('gateway request hygiene', () => {
  let upstream: Upstream;
  /** Defaults: no trusted proxy, the 5 MB global body limit. */
  let gateway: TestGateway;
  /** --max-request-size 1KB, --trusted-proxies 127.0.0.0/8. */
  let behindProxy: TestGateway;
  const seen: Seen[] = [];

  const routes = (url: string): string => `
spring.cloud.gateway.routes:
- id: echo
  uri: ${url}
  predicates: [Path=/echo/**]
  filters: [StripPrefix=1]
- id: plain
  uri: ${url}
  predicates: [Path=/plain/**]
- id: big
  uri: ${url}
  predicates: [Path=/big/**]
  filters: [RequestSize=4KB]
`;

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      const entry: Seen = { url: req.url ?? '', headers: req.headers, complete: false };
      seen.push(entry);
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        entry.complete = true;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes }));
      });
    });
    // Every Host reaches the gateway's own screen (malformed ones too), as on a gateway beyond loopback.
    gateway = await startTestGateway(routes(upstream.url), { argv: ['--allowed-hosts', '*'] });
    behindProxy = await startTestGateway(routes(upstream.url), {
      argv: ['--max-request-size', '1KB', '--trusted-proxies', '10.0.0.0/8, 127.0.0.0/8'],
    });
  });
  afterAll(async () => {
    await gateway.stop();
    await behindProxy.stop();
    await upstream.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  /** Sends GET /echo/x with these header lines through `port`; returns the headers the upstream was handed. */
  async function upstreamHeaders(port: number, headerLines: readonly string[]): Promise<Seen['headers']> {
    const res = await send(port, ['GET /echo/x HTTP/1.1', ...headerLines, 'connection: close', '', ''].join('\r\n'));
    expect(res.status).toBe(200);
    return seen[0]?.headers ?? {};
  }

  it('answers 431 with the reason for headers over the limit', async () => {
    const res = await send(
      gateway.port,
      `GET /plain/x HTTP/1.1\r\nhost: gw.localhost\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(res.status).toBe(431);
    expect(json(res.body)).toMatchObject({ error: 'header_too_large' });
    expect(json(res.body).message).toMatch(/headers are larger/);
    expect(seen).toEqual([]);
  });

  it('refuses a second Host header with 400', async () => {
    const res = await send(gateway.port, 'GET /plain/x HTTP/1.1\r\nhost: gw.localhost\r\nhost: evil.example\r\n\r\n');
    expect(res.status).toBe(400);
    expect(json(res.body)).toEqual({ error: 'bad_request', message: 'the request has more than one Host header' });
    expect(seen).toEqual([]);
  });

  it('refuses an HTTP/1.1 request without Host, or with a Host that is not host[:port], saying why', async () => {
    const none = await send(gateway.port, 'GET /plain/x HTTP/1.1\r\nconnection: close\r\n\r\n');
    expect(none.status).toBe(400);
    expect(json(none.body).message).toMatch(/needs a Host header/);
    const hosts = ['evil.example/path', 'a.example, b.example', 'a.example:80:80', 'user@a.example'];
    // Shaped like host:port but no URL parser takes them: a port past 65535, an IPv4 address with a 999 in it.
    hosts.push('a.example:99999', '999.1.1.1', '[::1]:70000');
    for (const host of hosts) {
      for (const path of ['/plain/x', '/actuator/health']) {
        const res = await send(gateway.port, `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`);
        expect(res.status, `${host} ${path}`).toBe(400);
        expect(json(res.body).message, `${host} ${path}`).toMatch(/Host header is not/);
      }
    }
    expect(seen).toEqual([]);
  });

  it('answers TRACE, TRACK and CONNECT with 405 and Allow, forwarding none of them', async () => {
    for (const line of ['TRACE /plain/x HTTP/1.1', 'TRACK /plain/x HTTP/1.1', 'CONNECT upstream.test:443 HTTP/1.1']) {
      const res = await send(gateway.port, `${line}\r\nhost: gw.localhost\r\nconnection: close\r\n\r\n`);
      expect(res.status, line).toBe(405);
      expect(res.head.toLowerCase()).toContain('allow: get, head, post, put, patch, delete, options');
      expect(json(res.body)).toMatchObject({ error: 'method_not_allowed' });
    }
    expect(seen).toEqual([]);
    // Every other method still goes through.
    const ok = await send(
      gateway.port,
      'PATCH /plain/x HTTP/1.1\r\nhost: gw.localhost\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi',
    );
    expect(ok.status).toBe(200);
  });

  it('refuses method override headers, which would let a GET through a read-only route act as a DELETE', async () => {
    for (const name of ['x-http-method-override', 'X-HTTP-Method', 'x-method-override']) {
      const res = await send(
        gateway.port,
        `GET /plain/x HTTP/1.1\r\nhost: gw.localhost\r\n${name}: DELETE\r\nconnection: close\r\n\r\n`,
      );
      expect(res.status, name).toBe(400);
      expect(json(res.body).message).toMatch(/method override headers/);
    }
    expect(seen).toEqual([]);
  });

  it('refuses the _method query parameter in any case or encoding, the override Express, Rails and Laravel read', async () => {
    const queries = [
      '_method=DELETE',
      'a=1&_METHOD=DELETE',
      '%5Fmethod=DELETE',
      '_%6D%65thod=DELETE',
      '_Method',
      '_method[]=DELETE',
      // PHP reads a leading space as nothing and a dot as `_` in a query name.
      '+.method=DELETE',
      'a=1;_method=DELETE',
    ];
    for (const query of queries) {
      for (const path of ['/plain/x', '/actuator/health']) {
        const res = await send(
          gateway.port,
          `GET ${path}?${query} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`,
        );
        expect(res.status, `${path}?${query}`).toBe(400);
        expect(json(res.body).message, query).toMatch(/_method query parameter/);
      }
    }
    expect(seen).toEqual([]);
    // A value that says _method, or a name that only contains it, is no override.
    for (const query of ['q=_method', 'x_method=1', 'method=GET', '%zz=1']) {
      const res = await send(
        gateway.port,
        `GET /plain/x?${query} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`,
      );
      expect(res.status, query).toBe(200);
    }
  });

  it('limits bodies to 5 MB by default: a larger announced body is refused before it is read', async () => {
    const res = await send(
      gateway.port,
      `POST /plain/x HTTP/1.1\r\nhost: gw.localhost\r\ncontent-length: ${5 * 1024 * 1024 + 1}\r\n\r\n`,
    );
    expect(res.status).toBe(413);
    expect(json(res.body)).toMatchObject({ error: 'payload_too_large', route: 'plain' });
    expect(res.head.toLowerCase()).toContain('connection: close');
    expect(seen).toEqual([]);
  });

  it('answers Expect: 100-continue with the refusal before the body is sent, and with 100 once a request passes', async () => {
    const refused = await send(
      gateway.port,
      `POST /plain/x HTTP/1.1\r\nhost: gw.localhost\r\nexpect: 100-continue\r\ncontent-length: ${6 * 1024 * 1024}\r\n\r\n`,
    );
    expect(refused.head).toMatch(/^HTTP\/1\.1 413 /);
    expect(seen).toEqual([]);
    const socket = net.connect(gateway.port, '127.0.0.1');
    await once(socket, 'connect');
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.write(
      'POST /plain/x HTTP/1.1\r\nhost: gw.localhost\r\nexpect: 100-continue\r\ncontent-length: 5\r\nconnection: close\r\n\r\n',
    );
    await until(() => out.includes('\r\n\r\n'));
    expect(out).toMatch(/^HTTP\/1\.1 100 Continue\r\n/);
    socket.write('hello');
    await once(socket, 'close');
    expect(out).toContain('HTTP/1.1 200 OK');
    expect(out).toContain('{"bytes":5}');
  });

  it('applies --max-request-size to announced and chunked bodies; RequestSize on a route overrides it', async () => {
    const announced = await send(
      behindProxy.port,
      `POST /plain/x HTTP/1.1\r\nhost: gw.localhost\r\ncontent-length: 2048\r\n\r\n${'x'.repeat(2048)}`,
    );
    expect(announced.status).toBe(413);
    expect(json(announced.body).message).toBe('the request body is over 1024 bytes');
    const chunk = `400\r\n${'y'.repeat(1024)}\r\n`;
    const chunked = await send(
      behindProxy.port,
      `POST /plain/x HTTP/1.1\r\nhost: gw.localhost\r\ntransfer-encoding: chunked\r\n\r\n${chunk}${chunk}${chunk}0\r\n\r\n`,
    );
    expect(chunked.status).toBe(413);
    // Streamed, not buffered: the upstream may have seen the start of it, but never a whole request.
    expect(seen.filter((s) => s.complete)).toEqual([]);
    const larger = await send(
      behindProxy.port,
      `POST /big/x HTTP/1.1\r\nhost: gw.localhost\r\ncontent-length: 2048\r\nconnection: close\r\n\r\n${'x'.repeat(2048)}`,
    );
    expect(larger.status).toBe(200);
    expect(larger.body).toContain('{"bytes":2048}');
  });

  it('replaces X-Forwarded-*, Forwarded and X-Real-IP from a client that is no trusted proxy', async () => {
    const headers = await upstreamHeaders(gateway.port, [
      'host: gw.localhost:8080',
      'x-forwarded-for: 10.9.9.9',
      'x-forwarded-host: evil.example',
      'x-forwarded-proto: https',
      'x-forwarded-port: 443',
      'x-forwarded-prefix: /evil',
      'forwarded: for=10.9.9.9;host=evil.example;proto=https',
      'x-real-ip: 10.9.9.9',
      'x_forwarded_for: 10.9.9.9',
      'true-client-ip: 10.9.9.9',
      'x-original-url: /admin/x',
      'x-rewrite-url: /admin/x',
    ]);
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-host']).toBe('gw.localhost:8080');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-port']).toBe(String(gateway.port));
    // Set by the gateway itself: StripPrefix=1 took /echo off.
    expect(headers['x-forwarded-prefix']).toBe('/echo');
    expect(headers.forwarded).toBeUndefined();
    expect(headers['x-real-ip']).toBeUndefined();
    // Read as X-Forwarded-For by CGI-style upstreams, and as the request URL by IIS, Symfony and Laravel.
    expect(headers.x_forwarded_for).toBeUndefined();
    expect(headers['true-client-ip']).toBeUndefined();
    expect(headers['x-original-url']).toBeUndefined();
    expect(headers['x-rewrite-url']).toBeUndefined();
  });

  it('drops the other client-address, host and scheme headers frameworks believe, from a client that is no trusted proxy', async () => {
    // Each is read as the client's address, the request's host or its scheme by some upstream framework or library.
    const forged = [
      'client-ip',
      'x-forwarded',
      'forwarded-for',
      'x-forwarded-server',
      'x-forwarded-ssl',
      'x-forwarded-scheme',
      'x-host',
      'x-original-host',
      'front-end-https',
      'x-url-scheme',
      'x-proxyuser-ip',
      'cf-connecting-ip',
      'fastly-client-ip',
      'x-remote-ip',
      'x-remote-addr',
      'x-originating-ip',
      'x-http-host-override',
      'client_ip',
    ];
    const headers = await upstreamHeaders(gateway.port, [
      'host: gw.localhost',
      ...forged.map(
        (name) =>
          `${name}: ${name.includes('scheme') || name.endsWith('https') || name.endsWith('ssl') ? 'on' : '6.6.6.6'}`,
      ),
      'via: 1.1 other-proxy',
      'x-request-id: kept',
    ]);
    for (const name of forged) expect(headers[name], name).toBeUndefined();
    // Not forwarding claims: Via is the loop-detection chain every proxy appends to, X-Request-Id a correlation id.
    expect(headers.via).toBe('1.1 other-proxy');
    expect(headers['x-request-id']).toBe('kept');
  });

  it('drops the headers particular proxies (ingress-nginx, Envoy, Azure, App Engine, WSGI) set about the client, from a client that is no trusted proxy', async () => {
    // Each is taken as the client's address, the original path or the mount prefix by apps behind that proxy; Envoy
    // trusts every x-envoy-* it receives from an internal peer (timeouts, retries, original path), App Engine apps
    // trust X-AppEngine-Cron/-QueueName as proof of origin, Azure Front Door's X-Azure-FDID gates access.
    const forged = [
      'x-original-forwarded-for',
      'x-original-forwarded-host',
      'x-envoy-external-address',
      'x-envoy-original-path',
      'x-envoy-internal',
      'x-envoy-upstream-rq-timeout-ms',
      'x_envoy_external_address',
      'x-azure-clientip',
      'x-azure-socketip',
      'x-azure-fdid',
      'x-appengine-user-ip',
      'x-appengine-cron',
      'x-script-name',
      'cf-visitor',
    ];
    const headers = await upstreamHeaders(gateway.port, [
      'host: gw.localhost',
      ...forged.map((name) => `${name}: 6.6.6.6`),
      'x-request-id: kept',
    ]);
    for (const name of forged) expect(headers[name], name).toBeUndefined();
    expect(headers['x-request-id']).toBe('kept');
    // A trusted proxy's are kept: it is the one that set them.
    seen.length = 0;
    const behind = await upstreamHeaders(behindProxy.port, [
      'host: gw.localhost',
      'x-envoy-external-address: 203.0.113.7',
    ]);
    expect(behind['x-envoy-external-address']).toBe('203.0.113.7');
  });

  it('appends to the forwarding headers of a peer in --trusted-proxies', async () => {
    const headers = await upstreamHeaders(behindProxy.port, [
      'host: gw.localhost',
      'x-forwarded-for: 203.0.113.7',
      'x-forwarded-proto: https',
      'x-forwarded-prefix: /api',
      'forwarded: for=203.0.113.7;proto=https',
    ]);
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('https, http');
    expect(headers['x-forwarded-prefix']).toBe('/api, /echo');
    expect(headers.forwarded).toBe('for=203.0.113.7;proto=https');
  });
});

describe('gateway proxy secret', () => {
  it('is never taken from a client, and is sent upstream only by a gateway given one', async () => {
    // The auth server believes X-Forwarded-For only with this header (AUTH_TRUSTED_PROXY_SECRET): a client that could
    // bring it through the gateway, even from behind a trusted proxy, could claim any source again.
    const seen: Array<string | string[] | undefined> = [];
    const upstream = await startUpstream((req, res) => {
      seen.push(req.headers['x-trellis-proxy-secret']);
      res.writeHead(200).end();
    });
    const yaml = `
spring.cloud.gateway.routes:
- id: echo
  uri: ${upstream.url}
  predicates: [Path=/echo/**]
`;
    const plain = await startTestGateway(yaml, { argv: ['--trusted-proxies', '127.0.0.0/8'] });
    const withSecret = await startTestGateway(yaml, {
      argv: ['--proxy-secret', PROXY_SECRET, '--auth-server-upstreams', upstream.url],
    });
    try {
      for (const port of [plain.port, withSecret.port]) {
        const res = await send(
          port,
          [
            'GET /echo/x HTTP/1.1',
            'host: gw.localhost',
            'x-trellis-proxy-secret: client-made',
            'x-trellis-proxy-secret: another',
            'connection: close',
            '',
            '',
          ].join('\r\n'),
        );
        expect(res.status).toBe(200);
      }
      expect(seen).toEqual([undefined, PROXY_SECRET]);
    } finally {
      await plain.stop();
      await withSecret.stop();
      await upstream.close();
    }
  });
});

describe('hygiene settings', () => {
  const config = (argv: string[]): unknown => gatewayConfig(loadSettings(gatewaySettings(), { argv, env: {} }));

  it('names the bad setting for a trusted proxy that is not an address or CIDR block, or a bad size', () => {
    expect(() => config(['--trusted-proxies', '10.0.0.0/8,proxy.example'])).toThrow(SettingsError);
    expect(() => config(['--trusted-proxies', '10.0.0.0/33'])).toThrow(/--trusted-proxies.*10.0.0.0\/33/);
    expect(() => config(['--max-request-size', 'lots'])).toThrow(/--max-request-size/);
    expect(config(['--trusted-proxies', '::1, 192.168.0.0/16'])).toMatchObject({
      trustedProxies: ['::1', '192.168.0.0/16'],
      maxRequestSize: 5 * 1024 * 1024,
    });
    expect(config(['--max-request-size', '0'])).toMatchObject({ maxRequestSize: undefined });
  });

  it("takes the auth server's upstreams as origins, by default the issuer's, and names a bad one", () => {
    expect(config([])).toMatchObject({ authServerUpstreams: [] });
    expect(config(['--issuer', 'https://Auth.example:443/realms/x', '--audience', 'api'])).toMatchObject({
      authServerUpstreams: ['https://auth.example'],
    });
    expect(
      config(['--issuer', 'https://id.example', '--audience', 'api', '--auth-server-upstreams', 'http://auth:9999/']),
    ).toMatchObject({ authServerUpstreams: ['http://auth:9999'] });
    expect(() => config(['--auth-server-upstreams', 'http://auth:9999,auth:9999'])).toThrow(
      /--auth-server-upstreams.*entry 2/,
    );
  });
});
