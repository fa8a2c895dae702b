-- Per-case membership (deny by default), restricted cases, and session details.

CREATE TABLE case_members (
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    added_by BIGINT REFERENCES users (id),
    added_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, user_id)
);

CREATE INDEX case_members_user ON case_members (user_id);

-- Cases created before membership existed keep their creator as lead.
INSERT INTO case_members (case_id, user_id, role, added_by, added_at)
SELECT id, created_by, 'lead', created_by, created_at FROM cases;

ALTER TABLE cases ADD COLUMN restricted BIGINT NOT NULL DEFAULT 0;

ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN client_address TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;

UPDATE sessions SET last_seen_at = created_at;
