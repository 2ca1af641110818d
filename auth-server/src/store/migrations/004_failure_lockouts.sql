-- The shared counts' lockouts: see store/postgres/003-failure-lockouts.sql.
ALTER TABLE failure_counts ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE failure_counts ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;
