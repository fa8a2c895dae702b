-- Version of each case, incremented by every edit, so that a save based on an old copy is
-- rejected instead of overwriting someone else's change.
ALTER TABLE cases ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
