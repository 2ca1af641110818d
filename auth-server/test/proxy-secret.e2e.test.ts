// Who may say where a request came from, when the trusted proxy is the loopback gateway: loopback is every local
// process, so an address alone cannot tell the gateway from an attacker on the same host. With a proxy secret set,
// X-Forwarded-For counts only with the secret the gateway adds; any other caller is keyed on its socket address.
import { redactSecrets } from '@trellis/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../gateway/test/helpers.ts';
import { addUser } from '../src/manage.ts';
import { addWebClient, capturingLogger, openLoginForm, startServer, tempDir, type TestServer } from './helpers.ts';

const SECRET = 'proxy-secret-under-test-0123456789';
const ALLOWED = 10;
const PASSWORD = 'correct horse battery staple';

const dir = tempDir();
const log = capturingLogger();
let server: TestServer;
let gateway: TestGateway;
let writerSecret: string;

beforeAll(async () => {
  server = await startServer({
    dataDir: dir.path,
    logger: log.logger,
    argv: ['--trusted-proxies', '127.0.0.1,::1'],
    env: { AUTH_TRUSTED_PROXY_SECRET: SECRET },
  });
  writerSecret = /development client writer \/ (\S+)/.exec((server.running.notes ?? []).join('\n'))?.[1] ?? '';
  await addUser({ dataDir: dir.path }, { username: 'alice', password: PASSWORD });
  await addWebClient(server);
  gateway = await startTestGateway(
    `
spring.cloud.gateway.routes:
- id: auth
  uri: ${server.url}
  predicates: [Path=/oauth2/**]
`,
    // The gateway trusts loopback too, as a proxy in front of it would be: the test plays several clients through it.
    { argv: ['--proxy-secret', SECRET, '--auth-server-upstreams', server.url, '--trusted-proxies', '127.0.0.1,::1'] },
  );
});
afterAll(async () => {
  await gateway.stop();
  await server.running.stop();
  dir.remove();
});

async function token(
  base: string,
  secret: string,
  headers: Record<string, string>,
  clientId = 'writer',
): Promise<number> {
  const res = await fetch(`${base}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  });
  await res.body?.cancel();
  return res.status;
}

describe('X-Forwarded-For from a trusted address needs the proxy secret', () => {
  it('keys a local caller without the secret on its socket, whatever X-Forwarded-For says', async () => {
    for (let i = 0; i < ALLOWED; i++) {
      expect(await token(server.url, 'wrong', { 'x-forwarded-for': `192.0.2.${i}` })).toBe(401);
    }
    // Locked out: a new claimed source, or a wrong or repeated secret, gives no fresh start, even for the right secret.
    expect(await token(server.url, writerSecret, { 'x-forwarded-for': '192.0.2.200' })).toBe(429);
    expect(
      await token(server.url, writerSecret, { 'x-forwarded-for': '192.0.2.201', 'x-trellis-proxy-secret': 'guess' }),
    ).toBe(429);
    expect(
      await token(server.url, writerSecret, {
        'x-forwarded-for': '192.0.2.202',
        'x-trellis-proxy-secret': SECRET.slice(0, -1),
      }),
    ).toBe(429);
  });

  it('keeps per-client sources for requests through the gateway holding the secret', async () => {
    // Another client's failures through the gateway lock out that client only.
    for (let i = 0; i < ALLOWED; i++) {
      expect(await token(gateway.url, 'wrong', { 'x-forwarded-for': '203.0.113.5' })).toBe(401);
    }
    expect(await token(gateway.url, writerSecret, { 'x-forwarded-for': '203.0.113.5' })).toBe(429);
    expect(await token(gateway.url, writerSecret, { 'x-forwarded-for': '198.51.100.8' })).toBe(200);
  });

  it('never lets a client bring the secret header through the gateway, and never logs the secret', async () => {
    // A client presenting a (wrong) secret of its own is not refused for it: the gateway drops it and sends its own.
    expect(
      await token(gateway.url, writerSecret, { 'x-forwarded-for': '198.51.100.9', 'x-trellis-proxy-secret': 'mine' }),
    ).toBe(200);
    expect(log.text()).not.toContain(SECRET);
    // The gateway hands the header to the auth server: if it logs the headers it was handed, it logs no secret.
    expect(JSON.stringify(redactSecrets({ headers: { 'X-Trellis-Proxy-Secret': SECRET } }))).not.toContain(SECRET);
  });

  it('keys password guesses on the login page on the socket too, whatever X-Forwarded-For says', async () => {
    const { action, csrf, cookies } = await openLoginForm(server.url);
    const signIn = async (password: string, forwardedFor: string): Promise<number> => {
      const res = await fetch(action, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          cookie: cookies,
          'content-type': 'application/x-www-form-urlencoded',
          'x-forwarded-for': forwardedFor,
        },
        body: new URLSearchParams({ username: 'alice', password, csrf }),
      });
      await res.body?.cancel();
      return res.status;
    };
    for (let i = 0; i < ALLOWED; i++) expect(await signIn(`guess-${i}`, `192.0.2.${100 + i}`)).toBe(401);
    expect(await signIn(PASSWORD, '192.0.2.250')).toBe(429);
  });

  it('refuses a proxy secret too short to be one', async () => {
    const other = tempDir();
    try {
      await expect(startServer({ dataDir: other.path, env: { AUTH_TRUSTED_PROXY_SECRET: 'short' } })).rejects.toThrow(
        /--trusted-proxy-secret \(AUTH_TRUSTED_PROXY_SECRET\) must have at least 16/,
      );
    } finally {
      other.remove();
    }
  });
});
