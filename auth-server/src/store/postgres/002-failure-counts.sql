-- Failed-credential counts shared by every instance (and worker) of one issuer, so that the limit on guessing a
-- client secret or a password holds across them. key is a SHA-256 of the throttle's name and key (a source address
-- and a client id or username: never stored as such). attempts counts failures and attempts still being checked
-- within the window that began at window_start; the row goes at expires_at (the window's end), swept with the models.
CREATE TABLE failure_counts (
  key          text PRIMARY KEY,
  window_start bigint NOT NULL,
  attempts     integer NOT NULL,
  expires_at   bigint NOT NULL
);
CREATE INDEX failure_counts_expires_at ON failure_counts (expires_at);
