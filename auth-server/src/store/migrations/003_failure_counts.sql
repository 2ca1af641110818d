-- Failed-credential counts shared by the workers (--workers) of one data dir: see store/postgres/002-failure-counts.sql.
CREATE TABLE failure_counts (
  key          TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  attempts     INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
);
CREATE INDEX failure_counts_expires_at ON failure_counts (expires_at);
