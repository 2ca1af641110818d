-- The shared counts hold lockouts as the in-memory throttle does (30 s after the 10th failure, doubling with each
-- further one): attempts now counts failures only, pending the attempts still being checked, and locked_until ends
-- the current lockout. Before, a key at the limit was refused until its window ended, 15 minutes after its first
-- failure, however long the lockout announced. Rows written before are read as failures with nothing pending.
ALTER TABLE failure_counts ADD COLUMN pending integer NOT NULL DEFAULT 0;
ALTER TABLE failure_counts ADD COLUMN locked_until bigint NOT NULL DEFAULT 0;
