// A miniature authorization server on a real socket: OpenID discovery, a JWKS whose keys the test rotates, and a
// client_credentials token endpoint (RFC 6749 §4.4) issuing JWTs signed with those keys. Written here, independent of
// the code under test, so the guard and the token client meet a server they did not shape.
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface TestKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export async function makeKey(kid: string, alg: 'RS256' | 'ES256' = 'RS256'): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export interface RegisteredClient {
  readonly secret: string;
  readonly scopes: readonly string[];
}

export interface TokenRequestSeen {
  readonly authorization: string | undefined;
  readonly form: URLSearchParams;
}

export interface TestIssuer {
  readonly url: string;
  readonly port: number;
  /** Keys in the JWKS, first one signs issued tokens; the test may replace the list. */
  keys: TestKey[];
  readonly clients: Map<string, RegisteredClient>;
  /** Lifetime of issued tokens. */
  expiresIn: number;
  /** Delay before the token endpoint answers, to let concurrent callers pile up. */
  tokenDelayMs: number;
  /** When set, the token endpoint answers this status with an empty body (an outage). */
  tokenOutage: number | undefined;
  readonly hits: { discovery: number; jwks: number; token: number };
  readonly tokenRequests: TokenRequestSeen[];
  /** Signs an access token as this issuer would, with overridable claims and header. */
  sign(claims?: JWTPayload, options?: { key?: TestKey; kid?: string }): Promise<string>;
  close(): Promise<void>;
}

function oauthError(res: http.ServerResponse, status: number, error: string, description: string): void {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': 'no-store' };
  if (status === 401) headers['www-authenticate'] = 'Basic realm="token"';
  res.writeHead(status, headers).end(JSON.stringify({ error, error_description: description }));
}

/** Reads client credentials the way RFC 6749 §2.3.1 sends them: basic (form-encoded parts) or in the body. */
function clientCredentials(req: http.IncomingMessage, form: URLSearchParams): [string, string] | 'both' | undefined {
  const header = req.headers.authorization;
  const inBody = form.has('client_secret');
  if (header?.startsWith('Basic ')) {
    if (inBody) return 'both';
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const unform = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
    return [unform(decoded.slice(0, colon)), unform(decoded.slice(colon + 1))];
  }
  if (inBody) return [form.get('client_id') ?? '', form.get('client_secret') ?? ''];
  return undefined;
}

export async function startIssuer(
  options: { audience?: string; tls?: { key: string; cert: string } } = {},
): Promise<TestIssuer> {
  const audience = options.audience ?? 'product-api';
  let url = '';
  const issuer: Omit<TestIssuer, 'url' | 'port' | 'sign' | 'close'> = {
    keys: [await makeKey('key-1', 'RS256'), await makeKey('key-ec', 'ES256')],
    clients: new Map(),
    expiresIn: 300,
    tokenDelayMs: 0,
    tokenOutage: undefined,
    hits: { discovery: 0, jwks: 0, token: 0 },
    tokenRequests: [],
  };
  let issued = 0;

  async function sign(claims: JWTPayload = {}, opts: { key?: TestKey; kid?: string } = {}): Promise<string> {
    const key = opts.key ?? issuer.keys[0];
    if (key === undefined) throw new Error('no signing key');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: url, aud: audience, iat: now, exp: now + 300, jti: `jti-${++issued}`, ...claims })
      .setProtectedHeader({ alg: key.alg, kid: opts.kid ?? key.kid, typ: 'at+jwt' })
      .sign(key.privateKey);
  }

  async function token(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    issuer.hits.token++;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    issuer.tokenRequests.push({ authorization: req.headers.authorization, form });
    if (issuer.tokenDelayMs > 0) await new Promise((r) => setTimeout(r, issuer.tokenDelayMs));
    if (issuer.tokenOutage !== undefined) return void res.writeHead(issuer.tokenOutage).end();
    if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
      return oauthError(res, 400, 'invalid_request', 'the body must be form-encoded');
    }
    const creds = clientCredentials(req, form);
    if (creds === 'both') return oauthError(res, 400, 'invalid_request', 'more than one client authentication method');
    const client = creds === undefined ? undefined : issuer.clients.get(creds[0]);
    if (creds === undefined || client === undefined || client.secret !== creds[1]) {
      return oauthError(res, 401, 'invalid_client', 'client authentication failed');
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return oauthError(res, 400, 'unsupported_grant_type', 'only client_credentials here');
    }
    const asked = (form.get('scope') ?? client.scopes.join(' ')).split(' ').filter(Boolean);
    const refused = asked.find((s) => !client.scopes.includes(s));
    if (refused !== undefined) return oauthError(res, 400, 'invalid_scope', `scope ${refused} is not allowed`);
    const scope = asked.join(' ');
    const aud = form.get('resource') ?? audience;
    const now = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      access_token: await sign({ client_id: creds[0], sub: creds[0], scope, aud, exp: now + issuer.expiresIn }),
      token_type: 'Bearer',
      expires_in: issuer.expiresIn,
      scope,
    });
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
  }

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      issuer.hits.discovery++;
      const doc = { issuer: url, jwks_uri: `${url}/jwks`, token_endpoint: `${url}/token` };
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    }
    if (req.method === 'GET' && path === '/jwks') {
      issuer.hits.jwks++;
      const body = JSON.stringify({ keys: issuer.keys.map((k) => k.publicJwk) });
      return void res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(body);
    }
    if (req.method === 'POST' && path === '/token') {
      token(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
      return;
    }
    res.writeHead(404).end();
  };
  const server = options.tls === undefined ? http.createServer(handler) : https.createServer(options.tls, handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  url = `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`;
  return Object.assign(issuer, {
    url,
    port,
    sign,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

/** A port nobody listens on. */
export async function deadPort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
