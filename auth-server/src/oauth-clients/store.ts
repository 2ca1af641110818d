// The OAuth client store: clients' metadata, validated, with their secrets kept as keyed hashes.
import type { KeyObject } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import { generateSecret, hashSecret, verifySecret } from '../crypto/secrets.ts';
import type { Awaitable, Db } from '../store/db.ts';
import { AuthServerError } from '../errors.ts';
import { firstUnstorable } from '../store/text.ts';

export type GrantType =
  'client_credentials' | 'authorization_code' | 'refresh_token' | 'urn:ietf:params:oauth:grant-type:device_code';
export type AuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

export const GRANT_TYPES: readonly GrantType[] = [
  'client_credentials',
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
];
export const AUTH_METHODS: readonly AuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'];

/** What a caller asks for when registering a client (snake_case, as in RFC 7591). */
export interface ClientInput {
  readonly client_id?: string;
  readonly client_name?: string;
  readonly scope?: string;
  readonly grant_types?: readonly string[];
  readonly redirect_uris?: readonly string[];
  readonly post_logout_redirect_uris?: readonly string[];
  readonly token_endpoint_auth_method?: string;
  /** RFC 7591; derived from grant_types when absent (`code` exactly when authorization_code is granted). */
  readonly response_types?: readonly string[];
}

/** The members of {@link ClientInput}: what the admin API takes (it refuses others). */
export const CLIENT_INPUT_MEMBERS = [
  'client_id',
  'client_name',
  'scope',
  'grant_types',
  'redirect_uris',
  'post_logout_redirect_uris',
  'token_endpoint_auth_method',
  'response_types',
] as const satisfies readonly (keyof ClientInput)[];

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

/**
 * A dynamically registered client (RFC 7591 §3.2.1, RFC 7592 §3): its metadata and what the client configuration
 * endpoint adds. `client_secret` and `registration_access_token` are there only when just issued.
 */
export interface Registration extends ClientMetadata {
  readonly client_id_issued_at: number;
  /** 0 (never) for confidential clients; absent for public ones. */
  readonly client_secret_expires_at?: number;
  readonly client_secret?: string;
  readonly registration_access_token?: string;
}

/** A client as stored: the same columns on SQLite and PostgreSQL; `metadata` is JSON text, times epoch ms. */
export interface ClientRow {
  readonly client_id: string;
  readonly metadata: string;
  readonly secret_hash: string | null;
  readonly registration_token_hash: string | null;
  readonly created_at: number;
  readonly updated_at: number;
}

/** Where client rows live (SQLite here, PostgreSQL in postgres-state.ts); the rules stay in ClientStore. */
export interface ClientRows {
  get(clientId: string): Awaitable<ClientRow | undefined>;
  list(): Awaitable<ClientRow[]>;
  /** False when a client of that id exists. */
  insert(row: ClientRow): Awaitable<boolean>;
  /** Sets the given columns; false when there is no such client. */
  update(
    clientId: string,
    columns: { metadata?: string; secret_hash: string | null; updated_at: number },
  ): Awaitable<boolean>;
  remove(clientId: string): Awaitable<boolean>;
}

/** Client rows in the SQLite database, statements prepared once (the provider reads a client on every request). */
export function sqliteClientRows(db: Db): ClientRows {
  const byId = db.prepare<[string], ClientRow>('SELECT * FROM clients WHERE client_id = ?');
  const all = db.prepare<[], ClientRow>('SELECT * FROM clients ORDER BY client_id');
  const insert = db.prepare<[string, string, string | null, string | null, number, number]>(
    `INSERT INTO clients (client_id, metadata, secret_hash, registration_token_hash, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const setSecret = db.prepare<[string | null, number, string]>(
    'UPDATE clients SET secret_hash = ?, updated_at = ? WHERE client_id = ?',
  );
  const setAll = db.prepare<[string, string | null, number, string]>(
    'UPDATE clients SET metadata = ?, secret_hash = ?, updated_at = ? WHERE client_id = ?',
  );
  const remove = db.prepare<[string]>('DELETE FROM clients WHERE client_id = ?');
  return {
    get: (clientId) => byId.get(clientId),
    list: () => all.all(),
    insert(r) {
      try {
        insert.run(r.client_id, r.metadata, r.secret_hash, r.registration_token_hash, r.created_at, r.updated_at);
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return false;
        throw err;
      }
    },
    update(clientId, c) {
      const { changes } =
        c.metadata === undefined
          ? setSecret.run(c.secret_hash, c.updated_at, clientId)
          : setAll.run(c.metadata, c.secret_hash, c.updated_at, clientId);
      return changes > 0;
    },
    remove: (clientId) => remove.run(clientId).changes > 0,
  };
}

/** A client's metadata as registered (what oidc-provider reads, minus the secret). */
export type ClientMetadata = Omit<ClientView, 'created_at' | 'updated_at'> & {
  readonly response_types: readonly string[];
};

const DEFAULT_SCOPE = 'openid';
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

/**
 * Web redirect URIs only: oidc-provider treats every client as a web client and refuses any other scheme when it
 * loads the client, so such a registration could never be used.
 */
function redirectUriList(value: unknown, name: string): string[] {
  let list: string[];
  try {
    list = stringList(value, name);
  } catch (err) {
    throw new AuthServerError('invalid_redirect_uri', (err as Error).message);
  }
  for (const uri of list) {
    const url = URL.parse(uri);
    if (url === null || uri.includes('#') || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new AuthServerError(
        'invalid_redirect_uri',
        `${name}: ${JSON.stringify(uri)} is not an absolute http(s) URI without a fragment`,
      );
    }
  }
  return list;
}

/** Validates registration input into oidc-provider metadata; messages say what to fix. */
export function validateClientInput(input: ClientInput, generatedId: () => string): ClientMetadata {
  if (typeof input !== 'object' || input === null) fail('send a JSON object');
  // Refused before anything else: no store could keep it (PostgreSQL), or it would read back as no valid JSON.
  const unstorable = firstUnstorable(input);
  if (unstorable !== undefined) fail(`a value ${unstorable}`);
  // Absent is generated; null is no id (RFC 7592's null-as-absent applies to registration, which drops nulls itself).
  const clientId = input.client_id === undefined ? generatedId() : input.client_id;
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    fail('client_id must be 1-64 letters, digits, dot, dash or underscore');
  }
  const redirectUris = redirectUriList(input.redirect_uris, 'redirect_uris');
  const postLogout = redirectUriList(input.post_logout_redirect_uris, 'post_logout_redirect_uris');
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
    throw new AuthServerError('invalid_redirect_uri', 'authorization_code needs at least one redirect_uris entry');
  }
  const responseTypes = grantTypes.includes('authorization_code') ? ['code'] : [];
  if (input.response_types !== undefined) {
    const asked = stringList(input.response_types, 'response_types');
    if (asked.length !== responseTypes.length || asked.some((t) => !responseTypes.includes(t))) {
      fail(
        responseTypes.length === 0
          ? 'response_types must be empty: only authorization_code uses the authorization endpoint'
          : 'response_types must be ["code"] with the authorization_code grant (other response types are not supported)',
      );
    }
  }
  const method =
    input.token_endpoint_auth_method === undefined ? 'client_secret_basic' : input.token_endpoint_auth_method;
  const authMethod = AUTH_METHODS.find((m) => m === method);
  if (authMethod === undefined) fail(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  if (authMethod === 'none' && grantTypes.includes('client_credentials')) {
    fail('a public client (token_endpoint_auth_method none) cannot use client_credentials');
  }
  // oidc-provider refuses an empty scope when it loads the client, and no scope at all would let the client ask for
  // every scope the server knows; a client registered without one gets the least: `openid` (RFC 7591 §2 lets the
  // server pick a default).
  const scope = input.scope === undefined || input.scope === '' ? DEFAULT_SCOPE : input.scope;
  if (typeof scope !== 'string' || !scope.split(' ').every((s) => SCOPE_TOKEN.test(s))) {
    fail('scope must be space-separated scope tokens');
  }
  // Characters (code points), as the document's maxLength counts them.
  if (
    input.client_name !== undefined &&
    (typeof input.client_name !== 'string' || [...input.client_name].length > 200)
  ) {
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
    response_types: responseTypes,
  };
}

/**
 * The OAuth client store, on SQLite or PostgreSQL rows. Secrets are generated here, returned once, and stored as keyed
 * hashes; the `Client` adapter hands oidc-provider the hash, and the provider's `compareClientSecret` verifies
 * against it.
 */
export class ClientStore {
  readonly #rows: ClientRows;
  readonly #pepper: KeyObject;
  readonly #now: () => number;

  constructor(options: { rows: ClientRows; pepper: KeyObject; now?: () => number }) {
    this.#rows = options.rows;
    this.#pepper = options.pepper;
    this.#now = options.now ?? Date.now;
  }

  async create(input: ClientInput, options: { secret?: string } = {}): Promise<CreatedClient> {
    const metadata = validateClientInput(input, generateClientId);
    const secret = metadata.token_endpoint_auth_method === 'none' ? undefined : (options.secret ?? generateSecret());
    await this.#insert(metadata, secret, undefined);
    const client = await this.show(metadata.client_id);
    return secret === undefined ? { client } : { client, client_secret: secret };
  }

  /**
   * Validates RFC 7591 registration metadata into what {@link register} stores. The server picks the client id: one
   * in the request is ignored, as are metadata Trellis does not use (RFC 7591 §2).
   */
  prepareRegistration(input: ClientInput): ClientMetadata {
    return validateClientInput({ ...input, client_id: undefined }, generateClientId);
  }

  /**
   * Stores a dynamically registered client with a new secret (unless public) and a registration access token, both
   * answered once and kept as keyed hashes.
   */
  async register(metadata: ClientMetadata): Promise<Registration> {
    const secret = metadata.token_endpoint_auth_method === 'none' ? undefined : generateSecret();
    const registrationAccessToken = generateSecret();
    await this.#insert(metadata, secret, registrationAccessToken);
    return {
      ...(await this.registration(metadata.client_id)),
      ...(secret === undefined ? {} : { client_secret: secret }),
      registration_access_token: registrationAccessToken,
    };
  }

  /** A dynamically registered client as the client configuration endpoint shows it: no secret, no token. */
  async registration(clientId: string): Promise<Registration> {
    const row = await this.#rows.get(clientId);
    if (row === undefined) throw new AuthServerError('unknown_client', `no client ${clientId}`);
    const metadata = JSON.parse(row.metadata) as Omit<ClientMetadata, 'client_id'>;
    return {
      client_id: row.client_id,
      ...metadata,
      client_id_issued_at: Math.floor(row.created_at / 1000),
      ...(row.secret_hash === null ? {} : { client_secret_expires_at: 0 }),
    };
  }

  /**
   * Replaces a client's metadata (RFC 7592 update) and keeps its id, secret and registration access token. A client
   * that turns confidential gets a new secret, answered once; one that turns public loses its secret.
   */
  async update(clientId: string, metadata: ClientMetadata): Promise<Registration> {
    const row = await this.#rows.get(clientId);
    if (row === undefined || metadata.client_id !== clientId) {
      throw new AuthServerError('unknown_client', `no client ${clientId}`);
    }
    const isPublic = metadata.token_endpoint_auth_method === 'none';
    const secret = !isPublic && row.secret_hash === null ? generateSecret() : undefined;
    const secretHash = isPublic ? null : secret === undefined ? row.secret_hash : hashSecret(secret, this.#pepper);
    const { client_id: _id, ...rest } = metadata;
    const updatedAt = this.#now();
    if (
      !(await this.#rows.update(clientId, {
        metadata: JSON.stringify(rest),
        secret_hash: secretHash,
        updated_at: updatedAt,
      }))
    ) {
      throw new AuthServerError('unknown_client', `no client ${clientId}`);
    }
    const updated = await this.registration(clientId);
    return secret === undefined ? updated : { ...updated, client_secret: secret };
  }

  /** Whether `token` is the registration access token of this (dynamically registered) client. */
  async verifyRegistrationToken(clientId: string, token: string): Promise<boolean> {
    const hash = (await this.#rows.get(clientId))?.registration_token_hash;
    return hash !== undefined && hash !== null && verifySecret(hash, token, this.#pepper);
  }

  async #insert(
    metadata: ClientMetadata,
    secret: string | undefined,
    registrationToken: string | undefined,
  ): Promise<void> {
    const now = this.#now();
    const { client_id, ...rest } = metadata;
    const hash = (value: string | undefined): string | null =>
      value === undefined ? null : hashSecret(value, this.#pepper);
    const inserted = await this.#rows.insert({
      client_id,
      metadata: JSON.stringify(rest),
      secret_hash: hash(secret),
      registration_token_hash: hash(registrationToken),
      created_at: now,
      updated_at: now,
    });
    if (!inserted) throw new AuthServerError('client_exists', `client ${client_id} already exists`);
  }

  async list(): Promise<ClientView[]> {
    return (await this.#rows.list()).map((row) => view(row));
  }

  async find(clientId: string): Promise<ClientView | undefined> {
    const row = await this.#rows.get(clientId);
    return row === undefined ? undefined : view(row);
  }

  async show(clientId: string): Promise<ClientView> {
    const found = await this.find(clientId);
    if (found === undefined) throw new AuthServerError('unknown_client', `no client ${clientId}`);
    return found;
  }

  /** Replaces the secret; the old one stops working at once. */
  async rotateSecret(clientId: string): Promise<string> {
    const row = await this.#rows.get(clientId);
    if (row === undefined) throw new AuthServerError('unknown_client', `no client ${clientId}`);
    if (row.secret_hash === null) {
      throw new AuthServerError('public_client', `client ${clientId} is public and has no secret`);
    }
    const secret = generateSecret();
    if (
      !(await this.#rows.update(clientId, { secret_hash: hashSecret(secret, this.#pepper), updated_at: this.#now() }))
    ) {
      throw new AuthServerError('unknown_client', `no client ${clientId}`);
    }
    return secret;
  }

  async remove(clientId: string): Promise<void> {
    if (!(await this.#rows.remove(clientId))) throw new AuthServerError('unknown_client', `no client ${clientId}`);
  }

  /** Whether `secret` is the client's current secret (used by seeding and by the provider's comparison). */
  async verifySecret(clientId: string, secret: string): Promise<boolean> {
    const hash = (await this.#rows.get(clientId))?.secret_hash;
    return hash !== undefined && hash !== null && verifySecret(hash, secret, this.#pepper);
  }

  /** The metadata oidc-provider reads through the Client adapter; `client_secret` is the hash. */
  async findMetadata(clientId: string): Promise<AdapterPayload | undefined> {
    const row = await this.#rows.get(clientId);
    if (row === undefined) return undefined;
    const metadata = JSON.parse(row.metadata) as Record<string, unknown>;
    return {
      client_id: row.client_id,
      ...metadata,
      ...(row.secret_hash === null ? {} : { client_secret: row.secret_hash }),
    };
  }
}

const generateClientId = (): string => `client-${generateSecret().slice(0, 16)}`;

function view(row: ClientRow): ClientView {
  const { response_types: _responseTypes, ...metadata } = JSON.parse(row.metadata) as Omit<ClientMetadata, 'client_id'>;
  return {
    client_id: row.client_id,
    ...metadata,
    created_at: new Date(row.created_at).toISOString(),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}
