// What is the auth server's reaches the auth server only: the proxy secret and its session cookies, through real sockets.
import type http from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, startTestGateway, startUpstream, type TestGateway, type Upstream } from '../helpers.ts';

const SECRET = 'gateway-proxy-secret-0123456789';
const OIDC_COOKIES =
  '_session=s; _session.sig=s2; _session.legacy=l; _session.legacy.sig=l2; _interaction=i; _interaction.sig=i2; ' +
  '_interaction_resume=r; _interaction_resume.sig=r2';

interface Seen {
  readonly upstream: 'auth' | 'app';
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
}

describe("the auth server's upstreams", () => {
  const seen: Seen[] = [];
  let auth: Upstream;
  let app: Upstream;
  let gateway: TestGateway;

  const recorder =
    (upstream: Seen['upstream']): http.RequestListener =>
    (req, res) => {
      seen.push({ upstream, url: req.url ?? '', headers: req.headers });
      // The auth server sets a cookie of its own besides oidc-provider's.
      if (req.url?.includes('sign-in') === true) res.setHeader('set-cookie', ['sso_hint=1; Path=/; HttpOnly']);
      // An upstream that tries to plant a session of its choosing in the browser, beside a cookie of its own.
      if (req.url?.includes('fixate') === true) {
        res.setHeader('set-cookie', ['_session=chosen; Path=/; HttpOnly', 'cart=3; Path=/', '_session.sig=x; Path=/']);
      }
      res.writeHead(200).end();
    };

  const routes = (): string => `
spring.cloud.gateway.routes:
- id: app-under-oauth2
  uri: ${app.url}
  predicates: [Path=/oauth2/app/**]
- id: auth
  uri: ${auth.url}
  predicates: [Path=/oauth2/**]
- id: app
  uri: ${app.url}
  predicates: [Path=/app/**]
- id: app-given-the-header
  uri: ${app.url}
  predicates: [Path=/given/**]
  filters: ['SetRequestHeader=x-trellis-proxy-secret, ${SECRET}']
`;

  async function through(gw: TestGateway, path: string, cookie?: string): Promise<Seen> {
    seen.length = 0;
    const res = await call(`${gw.url}${path}`, cookie === undefined ? {} : { headers: { cookie } });
    expect(res.status).toBe(200);
    expect(seen).toHaveLength(1);
    return seen[0] as Seen;
  }

  beforeAll(async () => {
    auth = await startUpstream(recorder('auth'));
    app = await startUpstream(recorder('app'));
    gateway = await startTestGateway(routes(), {
      argv: ['--proxy-secret', SECRET, '--auth-server-upstreams', auth.url],
    });
  });
  afterAll(async () => {
    await gateway.stop();
    await auth.close();
    await app.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('sends the proxy secret to the auth server and to no other upstream, whatever the path', async () => {
    const toAuth = await through(gateway, '/oauth2/token');
    expect(toAuth.upstream).toBe('auth');
    expect(toAuth.headers['x-trellis-proxy-secret']).toBe(SECRET);
    for (const path of ['/app/x', '/oauth2/app/x', '/given/x']) {
      const toApp = await through(gateway, path);
      expect(toApp.upstream, path).toBe('app');
      expect(toApp.headers['x-trellis-proxy-secret'], path).toBeUndefined();
    }
  });

  it("keeps the auth server's cookies from other upstreams, and the rest of Cookie for them", async () => {
    const cookie = `theme=dark; ${OIDC_COOKIES}; cart=3`;
    expect((await through(gateway, '/oauth2/auth', cookie)).headers.cookie).toBe(cookie);
    expect((await through(gateway, '/app/x', cookie)).headers.cookie).toBe('theme=dark; cart=3');
    expect((await through(gateway, '/oauth2/app/x', cookie)).headers.cookie).toBe('theme=dark; cart=3');
    // Only the auth server's: no Cookie at all.
    expect((await through(gateway, '/app/x', OIDC_COOKIES)).headers.cookie).toBeUndefined();
    // A name that only starts like one of them is another cookie.
    expect((await through(gateway, '/app/x', '_sessions=1')).headers.cookie).toBe('_sessions=1');
  });

  it('keeps any cookie the auth server set through the gateway from other upstreams too', async () => {
    expect((await through(gateway, '/app/x', 'sso_hint=1; cart=3')).headers.cookie).toBe('sso_hint=1; cart=3');
    await through(gateway, '/oauth2/sign-in');
    expect((await through(gateway, '/app/x', 'sso_hint=1; cart=3')).headers.cookie).toBe('cart=3');
    expect((await through(gateway, '/oauth2/auth', 'sso_hint=1')).headers.cookie).toBe('sso_hint=1');
  });

  it("lets no other upstream set the auth server's cookies in the browser (session fixation), its own cookies kept", async () => {
    const fromApp = await call(`${gateway.url}/app/fixate`);
    expect(fromApp.status).toBe(200);
    expect([fromApp.headers['set-cookie']].flat()).toEqual(['cart=3; Path=/']);
    const fromAuth = await call(`${gateway.url}/oauth2/fixate`);
    expect(fromAuth.headers['set-cookie']).toEqual([
      '_session=chosen; Path=/; HttpOnly',
      'cart=3; Path=/',
      '_session.sig=x; Path=/',
    ]);
  });

  it("takes the issuer's origin as the auth server's upstream when none is named", async () => {
    const byIssuer = await startTestGateway(routes(), {
      argv: [
        '--proxy-secret',
        SECRET,
        '--issuer',
        `${auth.url}/`,
        '--audience',
        'product-api',
        '--default-auth',
        'public',
      ],
    });
    try {
      const toAuth = await through(byIssuer, '/oauth2/token', OIDC_COOKIES);
      expect(toAuth.headers['x-trellis-proxy-secret']).toBe(SECRET);
      expect(toAuth.headers.cookie).toBe(OIDC_COOKIES);
      const toApp = await through(byIssuer, '/app/x', OIDC_COOKIES);
      expect(toApp.headers['x-trellis-proxy-secret']).toBeUndefined();
      expect(toApp.headers.cookie).toBeUndefined();
    } finally {
      await byIssuer.stop();
    }
  });
});
