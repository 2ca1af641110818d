-- Spring Cloud Config's JDBC model in PostgreSQL. JdbcEnvironmentRepository's query,
-- SELECT KEY, VALUE from PROPERTIES where APPLICATION=? and PROFILE=? and LABEL=?, reads it unchanged: unquoted
-- names fold to lower case on both sides, and KEY and VALUE are non-reserved words in PostgreSQL, so they need no
-- quotes. ID keeps insertion order (SQLite's ROWID), which Spring's query leaves open; an update keeps a key's place.
CREATE TABLE PROPERTIES (
  ID          BIGSERIAL NOT NULL UNIQUE,
  APPLICATION TEXT NOT NULL,
  PROFILE     TEXT NOT NULL,
  LABEL       TEXT NOT NULL,
  KEY         TEXT NOT NULL,
  VALUE       TEXT NOT NULL,
  PRIMARY KEY (APPLICATION, PROFILE, LABEL, KEY)
);

-- One row per write through the admin API (a PUT, a DELETE or a rollback), with who and when. Within a scope, IDs
-- follow commit order: writers of one scope hold its advisory lock from before their first read until commit.
CREATE TABLE PROPERTY_CHANGES (
  ID          BIGSERIAL PRIMARY KEY,
  APPLICATION TEXT NOT NULL,
  PROFILE     TEXT NOT NULL,
  LABEL       TEXT NOT NULL,
  ACTOR       TEXT NOT NULL,
  AT          TIMESTAMPTZ NOT NULL,
  KIND        TEXT NOT NULL CHECK (KIND IN ('put', 'delete', 'rollback')),
  ROLLBACK_TO BIGINT
);
CREATE INDEX PROPERTY_CHANGES_SCOPE ON PROPERTY_CHANGES (APPLICATION, PROFILE, LABEL, ID);

-- What each change did to each key, in the order the write named them; NULL means absent (OLD_VALUE NULL: added,
-- NEW_VALUE NULL: removed).
CREATE TABLE PROPERTY_HISTORY (
  ID        BIGSERIAL PRIMARY KEY,
  CHANGE_ID BIGINT NOT NULL REFERENCES PROPERTY_CHANGES (ID),
  KEY       TEXT NOT NULL,
  OLD_VALUE TEXT,
  NEW_VALUE TEXT,
  UNIQUE (CHANGE_ID, KEY)
);
