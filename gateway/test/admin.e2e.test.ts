// The route management API (/actuator/gateway/**) as an attacker on the same machine sees it: absent unless
// --admin-auth configures a credential, and with one, closed to every method without it, over HTTP and HTTPS and
// whatever spelling of the path. What it accepts is bounded: JSON only (no CSRF through forms), size, nesting and
// route count limited, regexes that cannot backtrack for seconds, and URIs listed without their passwords. Guessing
// the credential is limited per source address (the tests' sources are clients a trusted proxy names).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevCertificates } from '@trellis/kit/tls';
import { Agent, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echo, send, startTestGateway, startUpstream, type TestGateway, type Upstream } from './helpers.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

const ADMIN = `Basic ${Buffer.from('admin:s3cret:x').toString('base64')}`;

/** Paths that node, the screen or the kit might each read differently; all reach the route API once normalized. */
const VARIANTS = [
  '/actuator/gateway/routes',
  '/actuator/gateway/%72outes',
  '/actuator/%67ateway/routes',
  '/actuator/./gateway/routes',
  '//actuator/gateway/routes',
  '/actuator/gateway/routes/',
  '/x/../actuator/gateway/routes',
];

const stealBody = (uri: string) =>
  JSON.stringify({
    uri,
    order: -100,
    predicates: [{ name: 'Path', args: { _genkey_0: '/oauth2/token' } }],
    filters: [],
  });

async function start(routes: string, argv: string[], dataDir: string): Promise<TestGateway> {
  return startTestGateway(routes, { https: true, dataDir, argv });
}

describe('route management API', () => {
  let dir: string;
  let trusting: Agent;
  let ca: string;
  let upstream: Upstream;
  const agents: Agent[] = [];
  /** An agent whose connections come from `127.0.0.<n>`: a source of its own for the failed-credential limiter. */
  const from = (n: number): Agent => {
    const agent = new Agent({ connect: { ca }, localAddress: `127.0.0.${n}` });
    agents.push(agent);
    return agent;
  };
  const file = (url: string) => `
spring.cloud.gateway.routes:
- id: echo
  uri: ${url}
  predicates: [Path=/echo/**]
  filters: [StripPrefix=1]
`;

  const request = async (
    url: string,
    options: {
      method?: 'GET' | 'POST' | 'DELETE';
      headers?: Record<string, string>;
      body?: string | Uint8Array;
      dispatcher?: Agent;
    } = {},
  ): Promise<Reply> => {
    const res = await undiciRequest(url, {
      dispatcher: options.dispatcher ?? trusting,
      method: options.method ?? 'GET',
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.body === undefined ? {} : { body: options.body }),
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-admin-'));
    const tls = await ensureDevCertificates({ dir: join(dir, 'tls') });
    ca = tls.ca;
    trusting = new Agent({ connect: { ca } });
    upstream = await startUpstream(echo);
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await trusting.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('without --admin-auth', () => {
    let gateway: TestGateway;
    beforeAll(async () => {
      gateway = await start(file(upstream.url), [], dir);
    });
    afterAll(() => gateway.stop());

    it('is not there (404) for a loopback caller on HTTP and HTTPS, whatever the spelling, and creates nothing', async () => {
      for (const base of [gateway.url, gateway.httpsUrl ?? '']) {
        for (const path of VARIANTS) {
          expect((await request(`${base}${path}`)).status, `GET ${base}${path}`).toBe(404);
          const steal = await request(`${base}${path}/steal`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: stealBody(upstream.url),
          });
          expect(steal.status, `POST ${base}${path}/steal`).toBe(404);
        }
        expect((await request(`${base}/actuator/gateway/routes/echo`, { method: 'DELETE' })).status).toBe(404);
        expect((await request(`${base}/actuator/gateway/refresh`, { method: 'POST' })).status).toBe(404);
        expect((await request(`${base}/actuator/gateway/globalfilters`)).status).toBe(404);
      }
      expect(gateway.manager.table.get('steal')).toBeUndefined();
      expect(gateway.manager.table.get('echo')).toBeDefined();
      expect((await request(`${gateway.url}/actuator/health`)).status).toBe(200);
    });

    it('is not there on a raw socket either', async () => {
      const res = await send(
        gateway.port,
        `POST /actuator/gateway/%72outes/steal HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${stealBody(upstream.url).length}\r\nconnection: close\r\n\r\n${stealBody(upstream.url)}`,
      );
      expect(res.status).toBe(404);
      expect(gateway.manager.table.get('steal')).toBeUndefined();
    });
  });

  describe('with --admin-auth', () => {
    let gateway: TestGateway;
    const json = { 'content-type': 'application/json', authorization: ADMIN };
    beforeAll(async () => {
      gateway = await start(
        file(upstream.url),
        [
          '--admin-auth',
          'basic:admin:s3cret:x',
          '--max-request-size',
          '32KB',
          '--max-routes',
          '4',
          // The tests' own peer is a trusted proxy, so X-Forwarded-For gives a test a source of its own.
          '--trusted-proxies',
          '127.0.0.1',
        ],
        dir,
      );
    });
    afterAll(() => gateway.stop());

    it('answers 401 with the Basic challenge to every method without the credential, over HTTP and HTTPS', async () => {
      const wrong = `Basic ${Buffer.from('admin:s3cret').toString('base64')}`;
      for (const base of [gateway.url, gateway.httpsUrl ?? '']) {
        for (const [i, path] of VARIANTS.entries()) {
          // Each spelling from a source of its own: 8 wrong credentials each, under the limiter's 10.
          const client = { 'x-forwarded-for': `192.0.2.${20 + i}` };
          for (const headers of [
            client,
            { ...client, authorization: wrong },
            { ...client, authorization: 'Bearer s3cret:x' },
          ] as Record<string, string>[]) {
            const list = await request(`${base}${path}`, { headers });
            expect(list.status, `GET ${base}${path}`).toBe(401);
            expect(list.headers['www-authenticate']).toBe('Basic realm="trellis-gateway", charset="UTF-8"');
            expect(list.text).not.toContain(upstream.url);
            const steal = await request(`${base}${path}/steal`, {
              method: 'POST',
              headers: { ...headers, 'content-type': 'application/json' },
              body: stealBody(upstream.url),
            });
            expect(steal.status).toBe(401);
          }
        }
        expect((await request(`${base}/actuator/gateway/routes/echo`)).status).toBe(401);
        expect((await request(`${base}/actuator/gateway/routes/echo`, { method: 'DELETE' })).status).toBe(401);
        expect((await request(`${base}/actuator/gateway/refresh`, { method: 'POST' })).status).toBe(401);
      }
      expect(gateway.manager.table.get('steal')).toBeUndefined();
      expect(gateway.manager.table.get('echo')).toBeDefined();
    });

    it('locks a source out after 10 wrong credentials (429 with Retry-After), the right one too; other sources are served', async () => {
      const list = (authorization: string | undefined, client: string, base = gateway.url) =>
        request(`${base}/actuator/gateway/routes`, {
          headers: { 'x-forwarded-for': client, ...(authorization === undefined ? {} : { authorization }) },
        });
      for (let i = 0; i < 10; i++) {
        // Varying the Basic user gains nothing: there is one credential to guess.
        const guess = `Basic ${Buffer.from(`user${i}:guess${i}`).toString('base64')}`;
        expect((await list(guess, '192.0.2.40')).status, `guess ${i + 1}`).toBe(401);
      }
      const locked = await list(`Basic ${Buffer.from('admin:guess').toString('base64')}`, '192.0.2.40');
      expect(locked.status).toBe(429);
      expect(JSON.parse(locked.text)).toMatchObject({ error: 'too_many_requests' });
      expect((JSON.parse(locked.text) as { message: string }).message).toMatch(/too many failed credentials/);
      expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      const right = await list(ADMIN, '192.0.2.40');
      expect(right.status).toBe(429);
      expect(right.text).not.toContain(upstream.url);
      // Over HTTPS too: the lockout belongs to the address, not the listener.
      expect((await list(ADMIN, '192.0.2.40', gateway.httpsUrl)).status).toBe(429);
      // No credential is no guess: the challenge still comes.
      expect((await list(undefined, '192.0.2.40')).status).toBe(401);
      expect((await list(ADMIN, '192.0.2.41')).status).toBe(200);
      expect(
        (await request(`${gateway.url}/actuator/gateway/routes`, { headers: { authorization: ADMIN } })).status,
      ).toBe(200);
    });

    it('serves the operator with the credential, on any spelling of the path', async () => {
      for (const base of [gateway.url, gateway.httpsUrl ?? '']) {
        const list = await request(`${base}/actuator/gateway/%72outes`, { headers: { authorization: ADMIN } });
        expect(list.status).toBe(200);
        expect((JSON.parse(list.text) as { route_id: string }[]).map((r) => r.route_id)).toEqual(['echo']);
      }
      const created = await request(`${gateway.url}/actuator/gateway/routes/made`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ uri: upstream.url, predicates: ['Path=/made/**'] }),
      });
      expect(created.status).toBe(201);
      expect((await request(`${gateway.url}/made/x`)).status).toBe(200);
      const deleted = await request(`${gateway.url}/actuator/gateway/routes/made`, {
        method: 'DELETE',
        headers: { authorization: ADMIN },
      });
      expect(deleted.status).toBe(200);
      expect(gateway.manager.table.get('made')).toBeUndefined();
      const refreshed = await request(`${gateway.url}/actuator/gateway/refresh`, {
        method: 'POST',
        headers: { authorization: ADMIN },
      });
      expect(refreshed.status).toBe(200);
    });

    it('takes route definitions as application/json only (415), so a web page cannot post a form or text', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
        const res = await request(`${gateway.url}/actuator/gateway/routes/csrf`, {
          method: 'POST',
          headers: { authorization: ADMIN, ...(type === '' ? {} : { 'content-type': type }) },
          body: stealBody(upstream.url),
        });
        expect(res.status, type).toBe(415);
        expect(JSON.parse(res.text)).toMatchObject({ error: 'unsupported_media_type' });
        expect((JSON.parse(res.text) as { message: string }).message).toMatch(/application\/json/);
      }
      expect(gateway.manager.table.get('csrf')).toBeUndefined();
    });

    it('refuses changes a browser sends from another site (Origin or Sec-Fetch-Site), even with a cached credential', async () => {
      for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }] as Record<
        string,
        string
      >[]) {
        const res = await request(`${gateway.url}/actuator/gateway/routes/csrf`, {
          method: 'POST',
          headers: { ...json, ...headers },
          body: stealBody(upstream.url),
        });
        expect(res.status).toBe(403);
        expect((JSON.parse(res.text) as { message: string }).message).toMatch(/another site/);
      }
      expect(gateway.manager.table.get('csrf')).toBeUndefined();
    });

    it('limits bodies: the global --max-request-size (413), then 400 with the reason for deep nesting', async () => {
      const padded = JSON.stringify({ uri: upstream.url, metadata: { pad: 'x'.repeat(40_000) } });
      const big = await request(`${gateway.url}/actuator/gateway/routes/big`, {
        method: 'POST',
        headers: json,
        body: padded,
      });
      expect(big.status).toBe(413);
      const chunked = await send(
        gateway.port,
        `POST /actuator/gateway/routes/big HTTP/1.1\r\nhost: localhost\r\nauthorization: ${ADMIN}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${padded.length.toString(16)}\r\n${padded}\r\n0\r\n\r\n`,
      );
      expect(chunked.status).toBe(413);
      const deep = `{"uri":"${upstream.url}","metadata":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;
      const nested = await request(`${gateway.url}/actuator/gateway/routes/deep`, {
        method: 'POST',
        headers: json,
        body: deep,
      });
      expect(nested.status).toBe(400);
      expect((JSON.parse(nested.text) as { message: string }).message).toMatch(/nest/);
      const broken = await request(`${gateway.url}/actuator/gateway/routes/broken`, {
        method: 'POST',
        headers: json,
        body: '{"uri":',
      });
      expect(broken.status).toBe(400);
      expect(gateway.manager.table.routes.map((r) => r.id)).toEqual(['echo']);
    });

    it('refuses a lone surrogate, a NUL or bytes that are not UTF-8 anywhere in the body (400 with the reason), storing nothing', async () => {
      const post = (id: string, body: string | Uint8Array) =>
        request(`${gateway.url}/actuator/gateway/routes/${id}`, { method: 'POST', headers: json, body });
      const uri = JSON.stringify(upstream.url);
      // JSON texts as sent on the wire: `\ud800` is the six characters of the escape, not a UTF-16 unit of this file.
      const cases: [string, string | Uint8Array, RegExp][] = [
        ['surr-pred', `{"uri":${uri},"predicates":["Path=/atk6/\\ud800"]}`, /a value contains a lone surrogate/],
        ['surr-low', `{"uri":${uri},"predicates":["Path=/atk6/\\udc00x"]}`, /a value contains a lone surrogate/],
        ['surr-key', `{"uri":${uri},"metadata":{"\\ud800":"x"}}`, /a value contains a lone surrogate/],
        ['surr-ignored', `{"uri":${uri},"unknown":["\\udfff"]}`, /a value contains a lone surrogate/],
        ['nul-filter', `{"uri":${uri},"filters":["AddRequestHeader=X-A,a\\u0000b"]}`, /a value contains a NUL/],
        [
          'nul-args',
          `{"uri":${uri},"predicates":[{"name":"Path","args":{"_genkey_0":"/a\\u0000"}}]}`,
          /a value contains a NUL/,
        ],
        ['nul-meta', `{"uri":${uri},"metadata":{"note":"\\u0000"}}`, /a value contains a NUL/],
        [
          'not-utf8',
          Buffer.concat([
            Buffer.from(`{"uri":${uri},"metadata":{"note":"`),
            Buffer.from([0xff, 0xfe, 0xc3]),
            Buffer.from('"}}'),
          ]),
          /the body is not UTF-8/,
        ],
        // An overlong encoding of "/" and an encoded surrogate (CESU-8) are not UTF-8 either.
        [
          'overlong',
          Buffer.concat([Buffer.from(`{"uri":${uri},"x":"`), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
          /not UTF-8/,
        ],
        [
          'cesu',
          Buffer.concat([Buffer.from(`{"uri":${uri},"x":"`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
          /not UTF-8/,
        ],
      ];
      for (const [id, body, reason] of cases) {
        const res = await post(id, body);
        expect(res.status, id).toBe(400);
        expect(JSON.parse(res.text), id).toMatchObject({ error: 'invalid_route' });
        expect((JSON.parse(res.text) as { message: string }).message, id).toMatch(reason);
        expect(gateway.manager.table.get(id), id).toBeUndefined();
      }
      expect(gateway.manager.table.routes.map((r) => r.id)).toEqual(['echo']);
      // A surrogate pair (escaped or as UTF-8 bytes) is a character like any other: accepted and listed back intact.
      const pair = await post('pair', `{"uri":${uri},"metadata":{"note":"\\ud83d\\ude00 😀"}}`);
      expect(pair.status, pair.text).toBe(201);
      const list = await request(`${gateway.url}/actuator/gateway/routes`, { headers: json });
      expect(list.text).not.toMatch(/\\u[dD][89a-fA-F]/);
      const listed = JSON.parse(list.text) as { route_id: string; metadata: Record<string, unknown> }[];
      expect(listed.find((r) => r.route_id === 'pair')?.metadata).toEqual({ note: '😀 😀' });
      await request(`${gateway.url}/actuator/gateway/routes/pair`, { method: 'DELETE', headers: json });
    });

    it('refuses a key given twice in one object (400 naming it), at any depth and however it is escaped, storing nothing', async () => {
      const post = (id: string, body: string) =>
        request(`${gateway.url}/actuator/gateway/routes/${id}`, { method: 'POST', headers: json, body });
      const uri = JSON.stringify(upstream.url);
      const cases: [string, string, string][] = [
        // The finding: a reader sees a token check, JSON.parse keeps the last (empty) filter list.
        ['dup-filters', `{"uri":${uri},"filters":["TokenCheck=orders"],"filters":[]}`, 'filters'],
        ['dup-escaped', `{"uri":${uri},"filters":["StripPrefix=1"],"filt\\u0065rs":[]}`, 'filters'],
        ['dup-uri', `{"uri":"http://127.0.0.1:1","uri":${uri}}`, 'uri'],
        [
          'dup-args',
          `{"uri":${uri},"predicates":[{"name":"Path","args":{"_genkey_0":"/a/**"},"name":"Host"}]}`,
          'name',
        ],
        [
          'dup-meta',
          `{"uri":${uri},"metadata":{"cors":{"allowedOrigins":"a", "allowedOrigins" :"*"}}}`,
          'allowedOrigins',
        ],
      ];
      for (const [id, body, key] of cases) {
        const res = await post(id, body);
        expect(res.status, id).toBe(400);
        expect(JSON.parse(res.text), id).toMatchObject({ error: 'invalid_route' });
        expect((JSON.parse(res.text) as { message: string }).message, id).toContain(`key "${key}" occurs twice`);
        expect(gateway.manager.table.get(id), id).toBeUndefined();
      }
      expect(gateway.manager.table.routes.map((r) => r.id)).toEqual(['echo']);
      // The same name in different objects, and a value that looks like a repeated key, are no duplicate.
      const fine = await post(
        'no-dup',
        `{"uri":${uri},"predicates":[{"name":"Path","args":{"_genkey_0":"/nd/**"}},{"name":"Method","args":{"_genkey_0":"GET"}}],` +
          `"metadata":{"note":"\\",\\"note\\":\\"x","a":{"note":1},"b":[{"note":2},{"note":3}]}}`,
      );
      expect(fine.status, fine.text).toBe(201);
      expect(gateway.manager.table.get('no-dup')?.definition.metadata).toEqual({
        note: '","note":"x',
        a: { note: 1 },
        b: [{ note: 2 }, { note: 3 }],
      });
      await request(`${gateway.url}/actuator/gateway/routes/no-dup`, { method: 'DELETE', headers: json });
    });

    it('caps the number of routes (--max-routes) with 409 and the reason; replacing one still works', async () => {
      const put = (id: string) =>
        request(`${gateway.url}/actuator/gateway/routes/${id}`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ uri: upstream.url, predicates: [`Path=/${id}/**`] }),
        });
      for (const id of ['r1', 'r2', 'r3']) expect((await put(id)).status).toBe(201);
      const over = await put('r4');
      expect(over.status).toBe(409);
      expect(JSON.parse(over.text)).toMatchObject({ error: 'too_many_routes' });
      expect((JSON.parse(over.text) as { message: string }).message).toMatch(/4 routes.*--max-routes/);
      expect(gateway.manager.table.get('r4')).toBeUndefined();
      expect((await put('r3')).status).toBe(200);
      for (const id of ['r1', 'r2', 'r3']) {
        await request(`${gateway.url}/actuator/gateway/routes/${id}`, { method: 'DELETE', headers: json });
      }
    });

    it('never shows the password of a route URI (list, by id, or the answer to the POST)', async () => {
      const created = await request(`${gateway.url}/actuator/gateway/routes/secret`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ uri: `http://svc:hunter2@127.0.0.1:${upstream.port}`, predicates: ['Path=/secret/**'] }),
      });
      expect(created.status).toBe(201);
      const list = await request(`${gateway.url}/actuator/gateway/routes`, { headers: json });
      const one = await request(`${gateway.url}/actuator/gateway/routes/secret`, { headers: json });
      for (const text of [created.text, list.text, one.text]) {
        expect(text).not.toContain('hunter2');
        expect(text).toContain(`http://svc:****@127.0.0.1:${upstream.port}`);
      }
      // Only the listing is masked: the route itself is unchanged.
      expect(gateway.manager.table.get('secret')?.definition.uri).toBe(`http://svc:hunter2@127.0.0.1:${upstream.port}`);
      await request(`${gateway.url}/actuator/gateway/routes/secret`, { method: 'DELETE', headers: json });
    });

    it('runs route regexes in linear time: backtracking shapes answer within milliseconds, and what the linear engine cannot run is refused with 400 naming the route', async () => {
      // Exponential ((a+)+$ and kin) and polynomial (a*a*…c, the third pen test) shapes: all accepted now, because the
      // linear-time engine runs them in time proportional to the input, for this client and every other.
      const shapes = [
        ['Header=X-A, a*a*a*a*a*a*c', { 'x-a': 'a'.repeat(1000) }, ''],
        ['Header=X-A, \\w*\\d*\\w*\\d*\\w*\\d*c', { 'x-a': '1'.repeat(1000) }, ''],
        ['Header=X-A, (a+)+$', { 'x-a': `${'a'.repeat(1000)}!` }, ''],
        ['Header=X-A, (\\w+\\s?)*$', { 'x-a': `${'ab '.repeat(300)}!` }, ''],
        ['Query=q, .*.*.*.*.*.*=x', {}, `?q=${'a'.repeat(1000)}`],
        ['Cookie=c, a*a*a*a*a*a*c', { cookie: `c=${'a'.repeat(1000)}` }, ''],
        ['Path=/redos/{v:a*a*a*a*a*a*c}', {}, `/${'a'.repeat(1000)}`],
        ['Host=**.**.**.**.**.**.c', { host: `${'a.'.repeat(100)}localhost` }, ''],
      ] as const;
      for (const [predicate, headers, query] of shapes) {
        const res = await request(`${gateway.url}/actuator/gateway/routes/redos`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ uri: upstream.url, predicates: [predicate, 'Path=/redos/**'], filters: [] }),
        });
        expect(res.status, predicate).toBe(201);
        const started = performance.now();
        const probe = await request(`${gateway.url}/redos/x${query}`, { headers });
        expect(probe.status, predicate).toBe(404);
        expect(performance.now() - started, predicate).toBeLessThan(500);
        await request(`${gateway.url}/actuator/gateway/routes/redos`, { method: 'DELETE', headers: json });
      }
      for (const predicate of [
        'Header=X-A, (?=(a+))a*c',
        'Header=X-A, (a)\\1',
        'Header=X-A, (?!b)a',
        'Header=X-A, [0-9a-f]{32}',
        'Path=/x/{v:(?=a)a}',
      ]) {
        const res = await request(`${gateway.url}/actuator/gateway/routes/redos`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ uri: upstream.url, predicates: [predicate, 'Path=/redos/**'], filters: [] }),
        });
        expect(res.status, predicate).toBe(400);
        const message = (JSON.parse(res.text) as { message: string }).message;
        expect(message, predicate).toMatch(/linear time/);
        expect(message, predicate).toMatch(/redos/);
      }
      const rewrite = await request(`${gateway.url}/actuator/gateway/routes/redos`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          uri: upstream.url,
          predicates: ['Path=/redos/**'],
          filters: ['RewritePath=(?<=/redos)/(?<s>.*), /${s}'],
        }),
      });
      expect(rewrite.status).toBe(400);
      expect(rewrite.text).toMatch(/linear time/);
      expect(gateway.manager.table.get('redos')).toBeUndefined();
      // Ordinary patterns still work.
      const fine = await request(`${gateway.url}/actuator/gateway/routes/fine`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ uri: upstream.url, predicates: ['Header=X-A, \\d+(-[a-z]+)?', 'Path=/fine/**'] }),
      });
      expect(fine.status).toBe(201);
      expect((await request(`${gateway.url}/fine/x`, { headers: { 'x-a': '12-ab' } })).status).toBe(200);
      await request(`${gateway.url}/actuator/gateway/routes/fine`, { method: 'DELETE', headers: json });
    });
  });

  describe('with a bearer --admin-auth', () => {
    it('counts failures per client a trusted proxy names (X-Forwarded-For), not per proxy', async () => {
      const gateway = await start(
        file(upstream.url),
        ['--admin-auth', 'bearer:adm1n-t0ken', '--trusted-proxies', '127.0.0.60'],
        dir,
      );
      const proxy = from(60);
      const list = (client: string, token: string) =>
        request(`${gateway.url}/actuator/gateway/routes`, {
          headers: { authorization: `Bearer ${token}`, 'x-forwarded-for': client },
          dispatcher: proxy,
        });
      try {
        for (let i = 0; i < 10; i++) expect((await list('203.0.113.7', `guess${i}`)).status).toBe(401);
        expect((await list('203.0.113.7', 'adm1n-t0ken')).status).toBe(429);
        expect((await list('203.0.113.8', 'adm1n-t0ken')).status).toBe(200);
        // An untrusted peer's X-Forwarded-For is not believed: it cannot get a fresh source per guess.
        const direct = from(61);
        for (let i = 0; i < 10; i++) {
          const res = await request(`${gateway.url}/actuator/gateway/routes`, {
            headers: { authorization: `Bearer guess${i}`, 'x-forwarded-for': `198.51.100.${i}` },
            dispatcher: direct,
          });
          expect(res.status).toBe(401);
        }
        const spoofed = await request(`${gateway.url}/actuator/gateway/routes`, {
          headers: { authorization: 'Bearer adm1n-t0ken', 'x-forwarded-for': '198.51.100.99' },
          dispatcher: direct,
        });
        expect(spoofed.status).toBe(429);
      } finally {
        await gateway.stop();
      }
    });

    it('asks for and accepts the token', async () => {
      const gateway = await start(file(upstream.url), ['--admin-auth', 'bearer:adm1n-t0ken'], dir);
      try {
        const none = await request(`${gateway.url}/actuator/gateway/routes`);
        expect(none.status).toBe(401);
        expect(none.headers['www-authenticate']).toBe('Bearer realm="trellis-gateway"');
        const ok = await request(`${gateway.url}/actuator/gateway/routes`, {
          headers: { authorization: 'Bearer adm1n-t0ken' },
        });
        expect(ok.status).toBe(200);
      } finally {
        await gateway.stop();
      }
    });
  });
});
