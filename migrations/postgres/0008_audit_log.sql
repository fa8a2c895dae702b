-- Append-only audit log. Each row stores the SHA-256 of its own content and of the row before
-- it, so editing, deleting or reordering rows breaks the chain. audit_head holds the last id
-- and hash; appending locks it, which keeps the chain linear under concurrent writers.

CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    occurred_at BIGINT NOT NULL,
    actor_id BIGINT,
    actor_name TEXT NOT NULL,
    client_address TEXT,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT,
    case_id BIGINT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE INDEX audit_log_case ON audit_log (case_id, id);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    last_hash TEXT NOT NULL
);

INSERT INTO audit_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
