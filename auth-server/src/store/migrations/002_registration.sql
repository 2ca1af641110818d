-- RFC 7592: the hash of the registration access token of a dynamically registered client (NULL for clients
-- registered by an admin, which cannot be managed through the client configuration endpoint).
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;

-- Clients registered without scope were stored with an empty one, which oidc-provider refuses when it loads the
-- client; they get the default a client without scope gets now: openid only.
UPDATE clients SET metadata = json_set(metadata, '$.scope', 'openid') WHERE json_extract(metadata, '$.scope') = '';
