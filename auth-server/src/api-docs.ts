// The auth server's OpenAPI pieces: shared schemas, security schemes, and the provider's endpoints made from its routes.
import type { ApiDocsOptions, OpenApiOperation } from '@trellis/kit';
import { DISCOVERY_PATHS, PROVIDER_ROUTES } from './oidc/constants.ts';
import { AUTH_METHODS, GRANT_TYPES } from './oauth-clients/store.ts';

type Routes = { readonly [K in keyof typeof PROVIDER_ROUTES]: string };
type Responses = NonNullable<OpenApiOperation['responses']>;
/**
 * A JSON Schema (2020-12, OpenAPI 3.1's dialect) as written here: openapi-types lacks `if`/`then`/`propertyNames`,
 * so schemas are plain objects, typed as the document's where they go in.
 */
type Schema = Record<string, unknown>;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` }) as const;
const jsonOf = (schema: object) => ({ 'application/json': { schema } });
const HTML = { 'text/html': { schema: { type: 'string' } } } as const;

/** `{error, message}`: how the admin API and the kit refuse a request. */
export const adminError = (description: string) => ({ description, content: jsonOf(ref('AdminError')) });
/** RFC 6749 §5.2 / RFC 7591 §3.2.2: `{error, error_description}`. */
export const oauthError = (description: string) => ({ description, content: jsonOf(ref('OAuthError')) });
const page = (description: string) => ({ description, content: HTML });
/** oidc-provider answers a page's error as HTML to a browser (Accept: text/html) and as JSON otherwise. */
const pageError = (description: string) => ({
  description,
  content: { ...HTML, ...jsonOf(ref('OAuthError')) },
});

/** Text the stores keep (store/text.ts): no U+0000 (nor a lone surrogate, which no JSON generator sends). */
const STORABLE = '^[^\\u0000]*$';
/** json-body.ts's bounds: strings of at most 2,048 characters, lists and objects of at most 100 members. */
const LONG = 2048;
const CLIENT_ID: Schema = { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' };
/** An absolute http(s) URI without a fragment, with a host name or IPv4 address (store.ts: redirectUriList). */
const WEB_URI: Schema = {
  type: 'string',
  maxLength: LONG,
  pattern: '^https?://([A-Za-z0-9-]+\\.)*[A-Za-z][A-Za-z0-9-]*(:[0-9]{1,4})?(/[!$&-;=@-Z_a-z~]*)?$',
};
const URI_LIST: Schema = { type: 'array', maxItems: 100, items: WEB_URI };
const TIME: Schema = { type: 'string', format: 'date-time' };
const SCOPE_TOKEN = '[!#-\\[\\]-~]+';
const member = (name: string, schema: object): Schema => ({
  type: 'object',
  required: [name],
  properties: { [name]: schema },
});
const contains = (name: string, value: string): Schema => member(name, { contains: { const: value } });
const nonEmpty = (name: string): Schema => member(name, { minItems: 1 });

/**
 * The grants a client gets: those it names, or by default the code flow with redirect URIs and client credentials
 * without (store.ts: validateClientInput), which decide which response types and authentication it may have.
 */
const HAS_CODE_FLOW: Schema = {
  anyOf: [
    contains('grant_types', 'authorization_code'),
    { allOf: [{ not: nonEmpty('grant_types') }, nonEmpty('redirect_uris')] },
  ],
};
const HAS_CLIENT_CREDENTIALS: Schema = {
  anyOf: [
    contains('grant_types', 'client_credentials'),
    { allOf: [{ not: nonEmpty('grant_types') }, { not: nonEmpty('redirect_uris') }] },
  ],
};

/**
 * Client metadata as the admin API and registration take it (RFC 7591 names); the rules between members are those of
 * RFC 7591 §2.1 as the store checks them.
 */
const CLIENT_METADATA: Schema = {
  type: 'object',
  properties: {
    client_id: CLIENT_ID,
    client_name: { type: 'string', maxLength: 200, pattern: STORABLE },
    scope: {
      type: 'string',
      maxLength: LONG,
      pattern: `^(${SCOPE_TOKEN}( ${SCOPE_TOKEN})*)?$`,
      description: 'space-separated scopes; default openid',
    },
    grant_types: { type: 'array', maxItems: 100, items: { type: 'string', enum: [...GRANT_TYPES] } },
    redirect_uris: URI_LIST,
    post_logout_redirect_uris: URI_LIST,
    token_endpoint_auth_method: { type: 'string', enum: [...AUTH_METHODS] },
    response_types: { type: 'array', maxItems: 1, items: { type: 'string', const: 'code' } },
  },
  allOf: [
    // The code flow needs somewhere to send the code.
    { if: contains('grant_types', 'authorization_code'), then: nonEmpty('redirect_uris') },
    // ["code"] exactly with the code flow, [] without it.
    {
      if: { required: ['response_types'] },
      then: {
        if: HAS_CODE_FLOW,
        then: member('response_types', { minItems: 1 }),
        else: member('response_types', { maxItems: 0 }),
      },
    },
    // A public client has no secret to get client credentials with.
    { if: member('token_endpoint_auth_method', { const: 'none' }), then: { not: HAS_CLIENT_CREDENTIALS } },
  ],
};

const CLIENT_VIEW: Schema = {
  type: 'object',
  required: [
    'client_id',
    'scope',
    'grant_types',
    'redirect_uris',
    'post_logout_redirect_uris',
    'token_endpoint_auth_method',
    'created_at',
    'updated_at',
  ],
  properties: {
    client_id: { type: 'string' },
    client_name: { type: 'string' },
    scope: { type: 'string' },
    grant_types: { type: 'array', items: { type: 'string', enum: [...GRANT_TYPES] } },
    redirect_uris: { type: 'array', items: { type: 'string' } },
    post_logout_redirect_uris: { type: 'array', items: { type: 'string' } },
    token_endpoint_auth_method: { type: 'string', enum: [...AUTH_METHODS] },
    created_at: TIME,
    updated_at: TIME,
  },
};

const REGISTRATION: Schema = {
  type: 'object',
  required: ['client_id', 'registration_access_token', 'registration_client_uri'],
  properties: {
    ...(CLIENT_METADATA.properties as Schema),
    client_id_issued_at: { type: 'integer' },
    client_secret: { type: 'string' },
    client_secret_expires_at: { type: 'integer' },
    registration_access_token: { type: 'string' },
    registration_client_uri: { type: 'string', format: 'uri' },
  },
};

const SCHEMAS: Record<string, Schema> = {
  AdminError: {
    type: 'object',
    required: ['error', 'message'],
    properties: { error: { type: 'string' }, message: { type: 'string' } },
  },
  OAuthError: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string' }, error_description: { type: 'string' } },
  },
  // The admin API refuses unknown members (json-body.ts: onlyMembers); RFC 7591 registration ignores them.
  NewClient: { ...CLIENT_METADATA, additionalProperties: false },
  ClientMetadata: { ...CLIENT_METADATA, additionalProperties: true },
  Client: CLIENT_VIEW,
  CreatedClient: {
    type: 'object',
    required: ['client'],
    properties: {
      client: ref('Client'),
      client_secret: { type: 'string', description: 'shown once; absent for public clients' },
    },
  },
  Registration: REGISTRATION,
  NewUser: {
    type: 'object',
    required: ['username', 'password'],
    properties: {
      username: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,64}$' },
      password: { type: 'string', minLength: 8, maxLength: LONG, pattern: STORABLE },
      name: { type: 'string', maxLength: LONG, pattern: STORABLE },
      email: { type: 'string', maxLength: LONG, pattern: STORABLE },
    },
    additionalProperties: false,
  },
  User: {
    type: 'object',
    required: ['username', 'created_at'],
    properties: {
      username: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
      created_at: TIME,
    },
  },
  SigningKey: {
    type: 'object',
    required: ['kid', 'alg', 'created_at'],
    properties: { kid: { type: 'string' }, alg: { type: 'string' }, created_at: TIME, retired_at: TIME },
  },
  TokenResponse: {
    type: 'object',
    required: ['access_token', 'token_type'],
    properties: {
      access_token: { type: 'string' },
      token_type: { type: 'string' },
      expires_in: { type: 'integer' },
      scope: { type: 'string' },
      refresh_token: { type: 'string' },
      id_token: { type: 'string' },
    },
  },
};

/** The security schemes the operations name. */
const SECURITY_SCHEMES = {
  adminToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'the admin credential (AUTH_ADMIN_TOKEN; in development derived and printed at start)',
  },
  clientBasic: {
    type: 'http',
    scheme: 'basic',
    description: 'client_secret_basic: client id and secret (client_secret_post sends them as form fields instead)',
  },
  accessToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'an access token of a user' },
  registrationToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'RFC 7591 initial access token (AUTH_REGISTRATION_TOKEN), or RFC 7592 registration access token',
  },
} as const;

/** A string field or parameter (typed loosely: parameters and bodies take the schema types of different versions). */
// oidc-provider takes an empty parameter as one not sent, so form and query values carry no format: `resource=` is
// as good as no resource.
const text = (description: string, extra: Record<string, unknown> = {}) => ({
  type: 'string' as const,
  description,
  ...extra,
});

/** client_secret_post's fields; with client_secret_basic they are left out (both at once is refused). */
const CLIENT_FIELDS = {
  client_id: text('client_secret_post or a public client: the client id'),
  client_secret: text('client_secret_post: the client secret'),
};

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The token endpoint's form body, one shape per grant type (RFC 6749 §4, RFC 8628 §3.4). */
const TOKEN_FORM: Schema = {
  oneOf: [
    {
      type: 'object',
      title: 'client_credentials',
      required: ['grant_type'],
      properties: {
        grant_type: { type: 'string', const: 'client_credentials' },
        scope: text('space-separated scopes'),
        resource: text('RFC 8707 resource indicator (an absolute URI)'),
        ...CLIENT_FIELDS,
      },
    },
    {
      type: 'object',
      title: 'authorization_code',
      required: ['grant_type', 'code', 'redirect_uri'],
      properties: {
        grant_type: { type: 'string', const: 'authorization_code' },
        code: text('the code from the redirect'),
        redirect_uri: text('as sent to the authorization endpoint'),
        code_verifier: text('PKCE verifier (required for public clients)'),
        resource: text('RFC 8707 resource indicator (an absolute URI)'),
        ...CLIENT_FIELDS,
      },
    },
    {
      type: 'object',
      title: 'refresh_token',
      required: ['grant_type', 'refresh_token'],
      properties: {
        grant_type: { type: 'string', const: 'refresh_token' },
        refresh_token: text('the refresh token (rotated: each is used once)'),
        scope: text('at most the granted scopes'),
        resource: text('RFC 8707 resource indicator (an absolute URI)'),
        ...CLIENT_FIELDS,
      },
    },
    {
      type: 'object',
      title: 'device_code',
      required: ['grant_type', 'device_code'],
      properties: {
        grant_type: { type: 'string', const: DEVICE_CODE_GRANT },
        device_code: text('from the device authorization endpoint'),
        ...CLIENT_FIELDS,
      },
    },
  ],
};

const FORM = 'application/x-www-form-urlencoded';
const form = (schema: Schema) => ({ required: true, content: { [FORM]: { schema } } });

/** Authenticated with client_secret_basic, or with client_secret_post / a public client's id in the form. */
const CLIENT_AUTH: Record<string, string[]>[] = [{ clientBasic: [] }, {}];

/** What every client-authenticated endpoint may answer besides its own success. */
const CLIENT_ERRORS: Responses = {
  400: oauthError('invalid_request, invalid_grant, invalid_scope, unsupported_grant_type, …'),
  401: oauthError('invalid_client: unknown client or wrong secret'),
  413: oauthError('invalid_request: a body over 56 KiB, however it is framed'),
  415: oauthError('not application/x-www-form-urlencoded'),
  429: oauthError('too many wrong secrets for this client from this address (Retry-After)'),
};

/** Query parameters of the authorization endpoint and PAR (RFC 6749 §4.1.1, RFC 7636, RFC 8707). */
const AUTHORIZATION_PARAMETERS = {
  client_id: text('the client'),
  response_type: text('code', { enum: ['code'] }),
  redirect_uri: text('one of the client’s redirect URIs'),
  scope: text('space-separated scopes'),
  state: text('echoed back to the client'),
  nonce: text('echoed in the ID token'),
  code_challenge: text('PKCE challenge'),
  code_challenge_method: text('S256', { enum: ['S256'] }),
  prompt: text('login, consent or none'),
  resource: text('RFC 8707 resource indicator (an absolute URI)'),
  request_uri: text('from a pushed authorization request'),
  response_mode: text('query, fragment or form_post'),
};

const uid = { name: 'uid', in: 'path', required: true, schema: { type: 'string' } } as const;

/**
 * The provider's operations by path and method, made from the routes it is configured with (`PROVIDER_ROUTES`,
 * provider.ts) and the paths oidc-provider adds beside them (discovery, the authorization's and device flow's resume
 * paths, logout's confirm and success pages): a route added there needs its operation here, or the test that every
 * configured path is documented fails. CORS preflights (OPTIONS) are no operations: browsers send them, not API
 * clients (app.ts hands them to the provider).
 */
export function providerPaths(routes: Routes = PROVIDER_ROUTES): Record<string, Record<string, OpenApiOperation>> {
  const tags = ['oauth2'];
  const query = Object.entries(AUTHORIZATION_PARAMETERS).map(([name, schema]) => ({
    name,
    in: 'query' as const,
    required: ['client_id', 'response_type'].includes(name),
    schema,
  }));
  const discovery: OpenApiOperation = {
    summary: 'Authorization server metadata (OpenID Connect Discovery 1.0, RFC 8414)',
    tags,
    responses: {
      200: {
        description: 'issuer, endpoints, supported grants and algorithms',
        content: jsonOf({ type: 'object', required: ['issuer', 'token_endpoint', 'jwks_uri'] }),
      },
    },
  };
  const paths: Record<string, Record<string, OpenApiOperation>> = {
    [routes.authorization]: {
      get: {
        summary: 'Authorization endpoint (RFC 6749 §4.1): starts a sign-in and redirects to the login page',
        tags,
        parameters: query,
        responses: {
          302: { description: 'to the sign-in page, or back to the client with a code or an error' },
          303: { description: 'to the sign-in page, or back to the client with a code or an error' },
          400: pageError('the request cannot go back to the client (unknown client, unregistered redirect_uri)'),
          429: pageError('too many sign-ins started from this address'),
        },
      },
    },
    [`${routes.authorization}/{uid}`]: {
      get: {
        summary: 'Resumes an authorization after the sign-in pages (browser, with the interaction cookie)',
        tags,
        parameters: [uid],
        responses: {
          302: { description: 'back to the client, or to the next sign-in page' },
          303: { description: 'back to the client, or to the next sign-in page' },
          400: pageError('no sign-in of that id in this browser'),
        },
      },
    },
    [routes.pushed_authorization_request]: {
      post: {
        summary: 'Pushed authorization request (RFC 9126): the authorization parameters, answered with a request_uri',
        tags,
        security: CLIENT_AUTH,
        requestBody: form({
          type: 'object',
          required: ['client_id', 'response_type'],
          properties: { ...AUTHORIZATION_PARAMETERS, client_secret: CLIENT_FIELDS.client_secret },
        }),
        responses: {
          201: {
            description: 'the request_uri to send to the authorization endpoint',
            content: jsonOf({
              type: 'object',
              required: ['request_uri', 'expires_in'],
              properties: { request_uri: { type: 'string' }, expires_in: { type: 'integer' } },
            }),
          },
          ...CLIENT_ERRORS,
        },
      },
    },
    [routes.token]: {
      post: {
        summary: 'Token endpoint (RFC 6749 §3.2): client credentials, authorization code, refresh token, device code',
        tags,
        security: CLIENT_AUTH,
        requestBody: form(TOKEN_FORM),
        responses: {
          200: { description: 'the tokens', content: jsonOf(ref('TokenResponse')) },
          ...CLIENT_ERRORS,
        },
      },
    },
    [routes.jwks]: {
      get: {
        summary: 'The public signing keys (JWKS), retired ones included until their tokens expire',
        tags,
        responses: {
          200: {
            description: 'JWK set',
            content: {
              'application/jwk-set+json': {
                schema: {
                  type: 'object',
                  required: ['keys'],
                  properties: { keys: { type: 'array', items: { type: 'object' } } },
                },
              },
            },
          },
        },
      },
    },
    [routes.introspection]: {
      post: {
        summary: 'Token introspection (RFC 7662); another client’s token is inactive unless the caller may see all',
        tags,
        security: CLIENT_AUTH,
        requestBody: form({
          type: 'object',
          required: ['token'],
          properties: {
            token: text('the token'),
            token_type_hint: text('access_token or refresh_token'),
            ...CLIENT_FIELDS,
          },
        }),
        responses: {
          200: {
            description: '{active: false} or the token’s claims',
            content: jsonOf({ type: 'object', required: ['active'], properties: { active: { type: 'boolean' } } }),
          },
          ...CLIENT_ERRORS,
        },
      },
    },
    [routes.revocation]: {
      post: {
        summary: 'Token revocation (RFC 7009); unknown and foreign tokens answer 200 as well',
        tags,
        security: CLIENT_AUTH,
        requestBody: form({
          type: 'object',
          required: ['token'],
          properties: {
            token: text('the token'),
            token_type_hint: text('access_token or refresh_token'),
            ...CLIENT_FIELDS,
          },
        }),
        responses: { 200: { description: 'revoked, or nothing to revoke' }, ...CLIENT_ERRORS },
      },
    },
    [routes.userinfo]: Object.fromEntries(
      (['get', 'post'] as const).map((method) => [
        method,
        {
          summary: 'The signed-in user’s claims (OpenID Connect Core §5.3), with an access token of an openid scope',
          tags,
          security: [{ accessToken: [] }],
          responses: {
            200: {
              description: 'the claims',
              content: jsonOf({ type: 'object', required: ['sub'], properties: { sub: { type: 'string' } } }),
            },
            400: oauthError('invalid_request'),
            401: oauthError('invalid_token: no, an expired or a revoked access token'),
            403: oauthError('insufficient_scope'),
          },
        },
      ]),
    ),
    [routes.end_session]: {
      get: {
        summary: 'RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the confirmation page',
        tags,
        parameters: ['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id', 'logout_hint'].map((name) => ({
          name,
          in: 'query' as const,
          schema: { type: 'string' },
        })),
        responses: {
          200: page('confirm the logout'),
          400: pageError('an invalid id_token_hint or post_logout_redirect_uri'),
        },
      },
    },
    [`${routes.end_session}/confirm`]: {
      post: {
        summary: 'The logout confirmation form’s target (browser, with the session cookie)',
        tags,
        requestBody: form({
          type: 'object',
          required: ['xsrf'],
          properties: { xsrf: text('the form’s token'), logout: text('yes to end the session') },
        }),
        responses: {
          302: { description: 'to the client’s post_logout_redirect_uri or the success page' },
          303: { description: 'to the client’s post_logout_redirect_uri or the success page' },
          400: pageError('a forged or expired form'),
        },
      },
    },
    [`${routes.end_session}/success`]: {
      get: { summary: 'Logged out', tags, responses: { 200: page('signed out') } },
    },
    [routes.device_authorization]: {
      post: {
        summary: 'Device authorization (RFC 8628 §3.1): a device code and the user code to enter',
        tags,
        security: CLIENT_AUTH,
        requestBody: form({
          type: 'object',
          properties: { scope: text('space-separated scopes'), ...CLIENT_FIELDS },
        }),
        responses: {
          200: {
            description: 'codes and where to enter the user code',
            content: jsonOf({
              type: 'object',
              required: ['device_code', 'user_code', 'verification_uri', 'expires_in'],
              properties: {
                device_code: { type: 'string' },
                user_code: { type: 'string' },
                verification_uri: { type: 'string' },
                verification_uri_complete: { type: 'string' },
                expires_in: { type: 'integer' },
                interval: { type: 'integer' },
              },
            }),
          },
          ...CLIENT_ERRORS,
        },
      },
    },
    [routes.code_verification]: {
      get: {
        summary: 'The page where a user enters the device’s code',
        tags,
        parameters: [{ name: 'user_code', in: 'query', schema: { type: 'string' } }],
        responses: { 200: page('the code form') },
      },
      post: {
        summary: 'The code form’s target: the code, then the sign-in',
        tags,
        // Without a body (or its xsrf) the form is shown again: 303 to it.
        requestBody: {
          required: false,
          content: {
            [FORM]: {
              schema: {
                type: 'object',
                properties: { xsrf: text('the form’s token'), user_code: text('the code'), confirm: text('yes') },
              },
            },
          },
        },
        responses: {
          200: page('the confirmation or the form again with the reason'),
          303: { description: 'to the form again, or to the sign-in' },
          400: pageError('a forged or expired form'),
          429: pageError('too many wrong codes from this address'),
        },
      },
    },
    [`${routes.code_verification}/{uid}`]: {
      get: {
        summary: 'Resumes a device sign-in after the sign-in pages (browser, with the interaction cookie)',
        tags,
        parameters: [uid],
        responses: {
          200: page('done, or the reason it failed'),
          303: { description: 'to the code form: no sign-in of that id in this browser' },
          400: pageError('no sign-in of that id in this browser'),
        },
      },
    },
  };
  for (const path of DISCOVERY_PATHS) paths[path] = { get: discovery };
  return paths;
}

/** What `createService` gets as `apiDocs`: the components the operations refer to and the provider's paths. */
export function authServerApiDocs(routes: Routes = PROVIDER_ROUTES): Partial<ApiDocsOptions> {
  return {
    description:
      'OAuth 2.0 / OpenID Connect authorization server: the admin API, dynamic client registration, the sign-in pages and the endpoints of oidc-provider.',
    components: { securitySchemes: SECURITY_SCHEMES, schemas: SCHEMAS },
    extraPaths: () => providerPaths(routes),
  };
}
