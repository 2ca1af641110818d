// schemathesis on an auth server started as `trellis auth-server`: the admin API (create → read → rotate → delete of
// clients and users, by the document's links) and the OAuth endpoints with a client credential; a refused write must
// leave the admin lists of clients and users as they were.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../kit/test/support/schemathesis.ts';
import { startTrellis, type TrellisProcess } from '../../kit/test/support/trellis-process.ts';
import { tempDir } from './helpers.ts';

const ADMIN_TOKEN = 'fuzz-admin-token-0123456789';
const REGISTRATION_TOKEN = 'fuzz-registration-token-0123456789';
/**
 * The server's credential throttles count wrong tokens and secrets per source address, and the fuzzer sends wrong
 * ones on purpose (ignored_auth's probes, generated Basic headers). So the server trusts loopback as a proxy and each
 * party names its own source: the fuzzer's lockouts (if any) stay its own, and the state read back after each refused
 * write (from another source) is never answered 429. Within its own source a right token clears the count, so the
 * fuzzer's probes, each followed by its right credential, never add up to a lockout.
 */
const FUZZER_SOURCE = { 'x-forwarded-for': '192.0.2.10' };
const READER_SOURCE = { 'x-forwarded-for': '192.0.2.20' };

describe('auth server fuzzing', () => {
  const dir = tempDir();
  let server: TrellisProcess;
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, ...READER_SOURCE };

  beforeAll(async () => {
    server = await startTrellis(
      [
        'auth-server',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--data-dir',
        dir.path,
        '--admin-token',
        ADMIN_TOKEN,
        '--registration-token',
        REGISTRATION_TOKEN,
        '--trusted-proxies',
        '127.0.0.1/32',
      ],
      { env: { NODE_ENV: 'development' } },
    );
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    dir.remove();
  });

  const state = () => ({
    urls: [`${server.url}/admin/clients`, `${server.url}/admin/users`],
    headers: admin,
    ignore: ['created_at', 'updated_at'],
  });

  it('finds no failure in the admin API', async () => {
    // The admin token as schemathesis's own credential (a Web Fuzzing Commons auth file: it has no --auth for Bearer),
    // so ignored_auth can take it away and send a wrong one; a -H header it cannot remove.
    const auth = join(dir.path, 'admin-auth.json');
    writeFileSync(
      auth,
      JSON.stringify({
        auth: [{ name: 'admin', fixedHeaders: [{ name: 'Authorization', value: `Bearer ${ADMIN_TOKEN}` }] }],
      }),
    );
    const result = await fuzz({
      baseUrl: server.url,
      headers: FUZZER_SOURCE,
      maxSeconds: 20,
      state: state(),
      args: ['--auth-wfc', auth, '--include-path-regex', '^/admin/'],
    });
    expect(result.failures, result.output).toEqual([]);
    // createClient, listClients, getClient, rotateClientSecret, deleteClient, the same four of users, the keys' two.
    expect(result.operations).toBeGreaterThanOrEqual(11);
    // The links were followed (create → read → rotate → delete), not only single requests.
    expect(result.output).toMatch(/✅ Stateful/);
  }, 240_000);

  it('finds no failure in the OAuth endpoints, registration and the sign-in pages', async () => {
    // The client the token endpoint is fuzzed with, made as an operator would (its secret is in this answer only), and
    // made here: the admin API's fuzzing may have rotated the secret of, or removed, any client made before.
    const created = await fetch(`${server.url}/admin/clients`, {
      method: 'POST',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'oauth-fuzzer', grant_types: ['client_credentials'], scope: 'product:read' }),
    });
    expect(created.status).toBe(201);
    const clientSecret = ((await created.json()) as { client_secret: string }).client_secret;
    const result = await fuzz({
      baseUrl: server.url,
      headers: FUZZER_SOURCE,
      maxSeconds: 20,
      state: state(),
      // RFC 6749 §5.2 (and RFC 7009, 7662, 8628, 7591 after it): a well-formed request whose code, refresh token,
      // device code, interaction or client is not a live one is answered 400 with an OAuth error such as
      // invalid_grant, as is one that authenticates the client twice (Basic and form); those values are opaque
      // handles no schema can tell apart, so a schema-valid request refused is the standard's answer here. The
      // admin API above runs this check.
      excludeChecks: ['positive_data_acceptance'],
      args: ['--auth', `oauth-fuzzer:${clientSecret}`, '--include-path-regex', '^/(oauth2|\\.well-known)/'],
    });
    expect(result.failures, result.output).toEqual([]);
    expect(result.operations).toBeGreaterThanOrEqual(20);
    // The fuzzer's credential still works: its own failures did not lock it out of the token endpoint.
    const token = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`oauth-fuzzer:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        ...FUZZER_SOURCE,
      },
      body: 'grant_type=client_credentials',
    });
    expect(token.status).toBe(200);
  }, 240_000);
});
