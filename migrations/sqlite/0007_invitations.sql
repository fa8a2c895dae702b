-- Stakeholder invitations and the case sections shared with stakeholder members.
-- shared_sections is a comma-separated list of case sections such as findings,notifications.

ALTER TABLE case_members ADD COLUMN shared_sections TEXT NOT NULL DEFAULT '';

CREATE TABLE case_invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    shared_sections TEXT NOT NULL,
    invited_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_user_id BIGINT REFERENCES users (id)
);

CREATE INDEX case_invitations_case ON case_invitations (case_id);
