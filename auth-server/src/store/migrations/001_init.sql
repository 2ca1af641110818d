-- Every oidc-provider model (AccessToken, Grant, Session, Interaction…) in one table, keyed by model and id.
-- grant_id, user_code and uid are copied out of the payload so the adapter's lookups by them use an index.
CREATE TABLE oidc_models (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     TEXT NOT NULL,
  grant_id    TEXT,
  user_code   TEXT,
  uid         TEXT,
  expires_at  INTEGER,
  consumed_at INTEGER,
  PRIMARY KEY (model, id)
) WITHOUT ROWID;
CREATE INDEX oidc_models_grant_id ON oidc_models (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_models_user_code ON oidc_models (model, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_models_uid ON oidc_models (model, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_models_expires_at ON oidc_models (expires_at) WHERE expires_at IS NOT NULL;

-- Registered clients: oidc-provider metadata (snake_case JSON) without the secret, and the secret's hash.
CREATE TABLE clients (
  client_id   TEXT PRIMARY KEY,
  metadata    TEXT NOT NULL,
  secret_hash TEXT,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

-- Local users; password_hash is an argon2id PHC string.
CREATE TABLE users (
  username      TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  name          TEXT,
  email         TEXT,
  created_at    INTEGER NOT NULL
);

-- Signing keys, each private JWK sealed with AES-256-GCM under the master key. retired_at is set when a newer key
-- takes over signing; the key stays published in the JWKS until tokens it signed have expired.
CREATE TABLE signing_keys (
  kid        TEXT PRIMARY KEY,
  alg        TEXT NOT NULL,
  sealed     TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retired_at INTEGER
);
