-- One row per registered instance: what the registry needs to serve it again after a restart.
-- `instance` is the instance as it registered, in Eureka's JSON (the codec reads it back with its own validation).
CREATE TABLE instances (
  app TEXT NOT NULL,
  id TEXT NOT NULL,
  instance TEXT NOT NULL,
  overridden_status TEXT NOT NULL,
  action_type TEXT NOT NULL,
  registration_timestamp INTEGER NOT NULL,
  last_renewal_timestamp INTEGER NOT NULL,
  service_up_timestamp INTEGER NOT NULL,
  PRIMARY KEY (app, id)
) WITHOUT ROWID;

-- Registry-wide values; `version` keeps versions__delta increasing across restarts.
CREATE TABLE registry_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
