-- Stakeholder communication: the delivery log of the outbox.

-- Time of the latest delivery attempt, sent or failed.
ALTER TABLE outbox ADD COLUMN last_attempt_at BIGINT;

-- HTML part of the email; the plain-text part is in body.
ALTER TABLE outbox ADD COLUMN html_body TEXT;

-- Event kind the email reports, such as phase_changes; NULL for emails to the lead and tests.
ALTER TABLE outbox ADD COLUMN event_kind TEXT;

-- Whether the stakeholder is inside or outside the organisation: internal or external.
ALTER TABLE stakeholders ADD COLUMN audience TEXT NOT NULL DEFAULT 'internal';

-- Event kinds the stakeholder receives email about, as comma-separated wire names.
ALTER TABLE stakeholders ADD COLUMN subscriptions TEXT NOT NULL
    DEFAULT 'phase_changes,findings,severity_changes,containment_complete,status_updates,post_incident_report';

-- Status updates the lead wrote for the stakeholders; text is stored redacted.
CREATE TABLE status_updates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    text TEXT NOT NULL,
    -- Comma-separated kinds of secret removed from the text when it was saved.
    redactions TEXT NOT NULL,
    recipients BIGINT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX status_updates_case ON status_updates (case_id, created_at);

-- Overdue status updates the lead was reminded of. The primary key lets exactly one Rekey
-- instance queue the reminder for each missed due time.
CREATE TABLE status_reminders (
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (case_id, due_at)
);

-- Messages to stakeholders sent outside Rekey and recorded by hand: calls, letters, filings.
CREATE TABLE communications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    content TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    recorded_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX communications_case ON communications (case_id, occurred_at);

-- Deadlines that run from a recorded moment of awareness, such as 72 hours to report a
-- personal-data breach to a regulator.
CREATE TABLE legal_clocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    aware_at BIGINT NOT NULL,
    deadline_at BIGINT NOT NULL,
    remind_at BIGINT NOT NULL,
    reminded_at BIGINT,
    met_at BIGINT,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX legal_clocks_case ON legal_clocks (case_id);
CREATE INDEX legal_clocks_remind ON legal_clocks (remind_at);

-- Every delivery attempt of an outbox email: sent with the SMTP server's reply, or failed with
-- the error.
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id BIGINT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    attempted_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT
);

CREATE INDEX delivery_attempts_outbox ON delivery_attempts (outbox_id);
