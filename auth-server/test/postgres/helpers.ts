// What the PostgreSQL tests share: auth servers on one database, a token request, and a sign-in without a browser.
import { startPostgresServer, type PostgresServer } from '@trellis/kit/postgres-server';
import { freePort, type Logger } from '@trellis/kit';
import { afterAll, beforeAll } from 'vitest';
import { ADMIN_TOKEN, startServer, tempDir, type TestServer } from '../helpers.ts';

/** Every instance of one issuer shares this key: it unseals the signing keys and peppers the client secrets. */
export const SHARED_KEY = 'postgres-tests-shared-master-key-0123456789';

export { startPostgresServer, type PostgresServer };

/**
 * A throwaway PostgreSQL cluster and a temporary directory for the test file that calls this at its top: made before
 * its tests, removed after. `pg()` is the cluster (each test makes its own database on it).
 */
export function postgresForThisFile(): { readonly dir: ReturnType<typeof tempDir>; readonly pg: () => PostgresServer } {
  const dir = tempDir();
  let server: PostgresServer | undefined;
  beforeAll(async () => {
    server = await startPostgresServer();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    dir.remove();
  });
  return {
    dir,
    pg: () => {
      if (server === undefined) throw new Error('the PostgreSQL cluster is made in beforeAll');
      return server;
    },
  };
}

/**
 * Starts `count` auth servers on one database behind one issuer: the first listens on the issuer's port, the others
 * elsewhere, as instances behind a load balancer at the issuer's URL would.
 */
export async function startInstances(
  databaseUrl: string,
  dataDir: string,
  count: number,
  argv: readonly string[] = [],
  logger?: Logger,
): Promise<{ issuer: string; servers: TestServer[] }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const servers: TestServer[] = [];
  for (let i = 0; i < count; i++) {
    servers.push(
      await startServer({
        dataDir,
        ...(logger === undefined ? {} : { logger }),
        argv: [
          '--database-url',
          databaseUrl,
          '--key-encryption-key',
          SHARED_KEY,
          '--issuer',
          issuer,
          '--seed-dev-clients',
          'false',
          ...(i === 0 ? ['--port', String(port)] : []),
          ...argv,
        ],
      }),
    );
  }
  return { issuer, servers };
}

/** Registers a confidential client through the admin API of `server`; answers its secret. */
export async function addClient(server: TestServer, body: Record<string, unknown>): Promise<string> {
  const res = await server.admin('POST', '/admin/clients', body);
  if (res.status !== 201) throw new Error(`registering ${String(body.client_id)} answered ${res.status}`);
  return ((await res.json()) as { client_secret: string }).client_secret;
}

const basic = (id: string, secret: string): string => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** POSTs a form to one of the token, introspection or revocation endpoints with client_secret_basic. */
export function postForm(
  url: string,
  path: string,
  client: { id: string; secret: string },
  form: Record<string, string>,
): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: basic(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

export async function clientCredentials(
  url: string,
  client: { id: string; secret: string },
  scope = 'product:read',
): Promise<string> {
  const res = await postForm(url, '/oauth2/token', client, { grant_type: 'client_credentials', scope });
  if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function introspect(url: string, client: { id: string; secret: string }, token: string) {
  const res = await postForm(url, '/oauth2/introspect', client, { token });
  return (await res.json()) as { active: boolean; client_id?: string };
}

/** A cookie jar for one browser-less sign-in. */
class Jar {
  readonly #cookies = new Map<string, string>();
  take(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (pair !== undefined && eq > 0) this.#cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  }
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * The authorization code flow as a browser would run it, by plain fetch against `url` (an instance of `issuer`):
 * authorize, the login form, the consent form, and the code exchanged for tokens there.
 */
export async function signIn(
  url: string,
  issuer: string,
  client: { id: string; secret: string; redirectUri: string },
  user: { username: string; password: string },
  scope: string,
): Promise<{ access_token: string; refresh_token: string }> {
  const jar = new Jar();
  // The instance writes URLs with the issuer's origin; this "browser" sends them to the instance under test.
  const local = (location: string): string => new URL(location, issuer).href.replace(issuer, url);
  const go = async (target: string, init: RequestInit = {}): Promise<Response> => {
    const res = await fetch(target, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string> | undefined), cookie: jar.header() },
    });
    jar.take(res);
    return res;
  };
  const query = new URLSearchParams({
    client_id: client.id,
    response_type: 'code',
    scope,
    redirect_uri: client.redirectUri,
    prompt: 'consent',
  });
  let res = await go(`${url}/oauth2/authorize?${query.toString()}`);
  for (let step = 0; step < 12; step++) {
    const location = res.headers.get('location');
    if (location !== null) {
      if (location.startsWith(client.redirectUri)) {
        const code = new URL(location).searchParams.get('code');
        if (code === null) throw new Error(`no code in ${location}`);
        const token = await postForm(
          url,
          '/oauth2/token',
          { id: client.id, secret: client.secret },
          {
            grant_type: 'authorization_code',
            code,
            redirect_uri: client.redirectUri,
          },
        );
        if (token.status !== 200) throw new Error(`code exchange answered ${token.status}: ${await token.text()}`);
        return (await token.json()) as { access_token: string; refresh_token: string };
      }
      res = await go(local(location));
      continue;
    }
    const html = await res.text();
    const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (action === undefined || csrf === undefined) throw new Error(`no form at step ${step}: ${res.status}`);
    const fields: Record<string, string> = action.endsWith('/login')
      ? { csrf, username: user.username, password: user.password }
      : { csrf };
    res = await go(local(action.replaceAll('&amp;', '&')), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  }
  throw new Error('the sign-in did not end at the redirect URI');
}

export { ADMIN_TOKEN };
