-- The auth server's state on PostgreSQL: the same tables as on SQLite (store/migrations/), shared by every auth
-- server instance of one issuer.

-- Every oidc-provider model (AccessToken, Grant, Session, Interaction…) and the JWT access tokens' revocations, in
-- one table keyed by model and id. grant_id, user_code and uid are copied out of the payload so the adapter's lookups
-- by them use an index; expires_at drives the sweep.
CREATE TABLE oidc_models (
  model       text NOT NULL,
  id          text NOT NULL,
  payload     jsonb NOT NULL,
  grant_id    text,
  user_code   text,
  uid         text,
  expires_at  timestamptz,
  consumed_at timestamptz,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_models_grant_id ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_user_code ON oidc_models (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_models_uid ON oidc_models (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_models_expires_at ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX oidc_models_consumed_at ON oidc_models (consumed_at) WHERE consumed_at IS NOT NULL;

-- Registered clients: oidc-provider metadata (snake_case JSON) without the secret, the secret's keyed hash, and the
-- hash of the RFC 7592 registration access token of a dynamically registered client. json, not jsonb: the metadata
-- reads back in the order it was written, as on SQLite. Times in epoch milliseconds, as on SQLite.
CREATE TABLE clients (
  client_id               text PRIMARY KEY,
  metadata                json NOT NULL,
  secret_hash             text,
  registration_token_hash text,
  created_at              bigint NOT NULL,
  updated_at              bigint NOT NULL
);

-- Local users; password_hash is an argon2id PHC string.
CREATE TABLE users (
  username      text PRIMARY KEY,
  password_hash text NOT NULL,
  name          text,
  email         text,
  created_at    bigint NOT NULL
);

-- Signing keys, each private JWK sealed with AES-256-GCM under the master key (which every instance shares).
-- retired_at is set when a newer key takes over signing; the key stays published until its tokens have expired.
CREATE TABLE signing_keys (
  kid        text PRIMARY KEY,
  alg        text NOT NULL,
  sealed     text NOT NULL,
  created_at bigint NOT NULL,
  retired_at bigint
);
-- At most one current key, whichever instance rotates.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys ((true)) WHERE retired_at IS NULL;
