// OAuth 2.0 calls a test makes as a confidential client of the Trellis auth server, at the endpoints it serves under
// the issuer (/oauth2/token, /oauth2/revoke), the way a resource server's client would make them.

/** A confidential client of `issuer`, authenticating with HTTP Basic. */
export interface TestClient {
  readonly issuer: string;
  readonly clientId: string;
  readonly secret: string;
}

function post(client: TestClient, path: string, form: Record<string, string>): Promise<Response> {
  return fetch(`${client.issuer}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form),
  });
}

// Failures say only the status: the body could echo request details, and a token or secret must never reach a log.

/** An access token from the client_credentials grant (RFC 6749 §4.4) for `scope`; throws unless answered 200. */
export async function clientCredentialsToken(client: TestClient, scope: string): Promise<string> {
  const res = await post(client, '/oauth2/token', { grant_type: 'client_credentials', scope });
  if (res.status !== 200) throw new Error(`token request for ${client.clientId} answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Revokes an access token (RFC 7009) as the client it was issued to; throws unless answered 200. */
export async function revokeAccessToken(client: TestClient, token: string): Promise<void> {
  const res = await post(client, '/oauth2/revoke', { token, token_type_hint: 'access_token' });
  await res.body?.cancel();
  if (res.status !== 200) throw new Error(`revocation by ${client.clientId} answered ${res.status}`);
}
