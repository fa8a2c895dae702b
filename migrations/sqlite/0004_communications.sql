-- Stakeholder communication: the delivery log of the outbox.

-- Time of the latest delivery attempt, sent or failed.
ALTER TABLE outbox ADD COLUMN last_attempt_at BIGINT;
