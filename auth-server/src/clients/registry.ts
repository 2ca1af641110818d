import type { AdapterPayload } from 'oidc-provider';
import { generateSecret, hashSecret, verifySecret } from '../crypto/secrets.ts';
import type { Db } from '../store/db.ts';
import { AuthServerError } from '../errors.ts';

export type GrantType =
  'client_credentials' | 'authorization_code' | 'refresh_token' | 'urn:ietf:params:oauth:grant-type:device_code';
export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

const GRANT_TYPES: readonly GrantType[] = [
  'client_credentials',
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
];
const AUTH_METHODS: readonly AuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'];

/** What a caller asks for when registering a client (snake_case, as in RFC 7591). */
export interface ClientInput {
  readonly client_id?: string;
  readonly client_name?: string;
  readonly scope?: string;
  readonly grant_types?: readonly string[];
  readonly redirect_uris?: readonly string[];
  readonly post_logout_redirect_uris?: readonly string[];
  readonly token_endpoint_auth_method?: string;
}

/** A registered client as shown to admins: never its secret, nor the secret's hash. */
export interface ClientView {
  readonly client_id: string;
  readonly client_name?: string;
  readonly scope: string;
  readonly grant_types: readonly GrantType[];
  readonly redirect_uris: readonly string[];
  readonly post_logout_redirect_uris: readonly string[];
  readonly token_endpoint_auth_method: AuthMethod;
  readonly created_at: string;
  readonly updated_at: string;
}

export interface CreatedClient {
  readonly client: ClientView;
  /** Shown once; only its hash is kept. Undefined for public clients (`none`). */
  readonly client_secret?: string;
}

interface Row {
  client_id: string;
  metadata: string;
  secret_hash: string | null;
  created_at: number;
  updated_at: number;
}

type Metadata = Omit<ClientView, 'created_at' | 'updated_at'> & { response_types: readonly string[] };

const CLIENT_ID = /^[A-Za-z0-9._-]{1,64}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function fail(message: string): never {
  throw new AuthServerError('invalid_client_metadata', message);
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail(`${name} must be a list of strings`);
  return value;
}

/** Validates registration input into oidc-provider metadata; messages say what to fix. */
export function validateClientInput(input: ClientInput, generatedId: () => string): Metadata {
  if (typeof input !== 'object' || input === null) fail('send a JSON object');
  const clientId = input.client_id ?? generatedId();
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    fail('client_id must be 1-64 letters, digits, dot, dash or underscore');
  }
  const redirectUris = stringList(input.redirect_uris, 'redirect_uris');
  for (const uri of redirectUris) {
    const url = URL.parse(uri);
    if (url === null || url.hash !== '' || !/^[a-z][a-z0-9+.-]*:$/.test(url.protocol)) {
      fail(`redirect_uris: ${JSON.stringify(uri)} is not an absolute URI without a fragment`);
    }
  }
  const postLogout = stringList(input.post_logout_redirect_uris, 'post_logout_redirect_uris');
  const requested = stringList(input.grant_types, 'grant_types');
  const grantTypes: GrantType[] = [];
  for (const g of requested.length > 0
    ? requested
    : redirectUris.length > 0
      ? ['authorization_code', 'refresh_token']
      : ['client_credentials']) {
    const known = GRANT_TYPES.find((k) => k === g);
    if (known === undefined) fail(`grant_types: ${JSON.stringify(g)} is not one of ${GRANT_TYPES.join(', ')}`);
    if (!grantTypes.includes(known)) grantTypes.push(known);
  }
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) {
    fail('authorization_code needs at least one redirect_uris entry');
  }
  const method = input.token_endpoint_auth_method ?? 'client_secret_basic';
  const authMethod = AUTH_METHODS.find((m) => m === method);
  if (authMethod === undefined) fail(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  if (authMethod === 'none' && grantTypes.includes('client_credentials')) {
    fail('a public client (token_endpoint_auth_method none) cannot use client_credentials');
  }
  const scope = input.scope ?? '';
  if (typeof scope !== 'string' || (scope !== '' && !scope.split(' ').every((s) => SCOPE_TOKEN.test(s)))) {
    fail('scope must be space-separated scope tokens');
  }
  if (input.client_name !== undefined && (typeof input.client_name !== 'string' || input.client_name.length > 200)) {
    fail('client_name must be a text of at most 200 characters');
  }
  return {
    client_id: clientId,
    ...(input.client_name === undefined ? {} : { client_name: input.client_name }),
    scope,
    grant_types: grantTypes,
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogout,
    token_endpoint_auth_method: authMethod,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
  };
}

/**
 * The client registry on SQLite. Secrets are generated here, returned once, and stored as keyed hashes; the
 * `Client` adapter hands oidc-provider the hash, and the provider's `compareClientSecret` verifies against it.
 */
export class ClientRegistry {
  readonly #db: Db;
  readonly #pepper: Buffer;
  readonly #now: () => number;

  constructor(options: { db: Db; pepper: Buffer; now?: () => number }) {
    this.#db = options.db;
    this.#pepper = options.pepper;
    this.#now = options.now ?? Date.now;
  }

  create(input: ClientInput, options: { secret?: string } = {}): CreatedClient {
    const metadata = validateClientInput(input, () => `client-${generateSecret().slice(0, 12)}`);
    const secret = metadata.token_endpoint_auth_method === 'none' ? undefined : (options.secret ?? generateSecret());
    const now = this.#now();
    const { client_id, ...rest } = metadata;
    try {
      this.#db
        .prepare(
          'INSERT INTO clients (client_id, metadata, secret_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(client_id, JSON.stringify(rest), secret === undefined ? null : hashSecret(secret, this.#pepper), now, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new AuthServerError('client_exists', `client ${client_id} already exists`);
      }
      throw err;
    }
    const client = this.show(client_id);
    return secret === undefined ? { client } : { client, client_secret: secret };
  }

  list(): ClientView[] {
    return this.#db
      .prepare<[], Row>('SELECT * FROM clients ORDER BY client_id')
      .all()
      .map((row) => view(row));
  }

  find(clientId: string): ClientView | undefined {
    const row = this.#row(clientId);
    return row === undefined ? undefined : view(row);
  }

  show(clientId: string): ClientView {
    const found = this.find(clientId);
    if (found === undefined) throw new AuthServerError('unknown_client', `no client ${clientId}`);
    return found;
  }

  /** Replaces the secret; the old one stops working at once. */
  rotateSecret(clientId: string): string {
    const row = this.#row(clientId);
    if (row === undefined) throw new AuthServerError('unknown_client', `no client ${clientId}`);
    if (row.secret_hash === null) {
      throw new AuthServerError('invalid_client_metadata', `client ${clientId} is public and has no secret`);
    }
    const secret = generateSecret();
    this.#db
      .prepare('UPDATE clients SET secret_hash = ?, updated_at = ? WHERE client_id = ?')
      .run(hashSecret(secret, this.#pepper), this.#now(), clientId);
    return secret;
  }

  remove(clientId: string): void {
    const { changes } = this.#db.prepare('DELETE FROM clients WHERE client_id = ?').run(clientId);
    if (changes === 0) throw new AuthServerError('unknown_client', `no client ${clientId}`);
  }

  /** Whether `secret` is the client's current secret (used by seeding and by the provider's comparison). */
  verifySecret(clientId: string, secret: string): boolean {
    const hash = this.#row(clientId)?.secret_hash;
    return hash !== undefined && hash !== null && verifySecret(hash, secret, this.#pepper);
  }

  /** The metadata oidc-provider reads through the Client adapter; `client_secret` is the hash. */
  findMetadata(clientId: string): AdapterPayload | undefined {
    const row = this.#row(clientId);
    if (row === undefined) return undefined;
    const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
    return {
      client_id: row.client_id,
      ...metadata,
      ...(row.secret_hash === null ? {} : { client_secret: row.secret_hash }),
    };
  }

  #row(clientId: string): Row | undefined {
    return this.#db.prepare<[string], Row>('SELECT * FROM clients WHERE client_id = ?').get(clientId);
  }
}

function view(row: Row): ClientView {
  const { response_types: _responseTypes, ...metadata } = JSON.parse(row.metadata) as Omit<Metadata, 'client_id'>;
  return {
    client_id: row.client_id,
    ...metadata,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}
