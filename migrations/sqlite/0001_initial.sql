-- Initial schema. Times are BIGINT milliseconds since the Unix epoch, in UTC; flags are
-- INTEGER 0 or 1. The PostgreSQL folder has the same tables with the same column names.

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO counters (name, value) VALUES ('case_number', 0);

CREATE TABLE cases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number BIGINT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    severity TEXT NOT NULL,
    detection_source TEXT NOT NULL,
    external_ref TEXT,
    phase TEXT NOT NULL,
    compromise_time BIGINT,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    access_key_id TEXT,
    principal_type TEXT,
    principal_name TEXT,
    principal_id TEXT,
    account_id TEXT,
    status TEXT NOT NULL,
    notes TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX credentials_case ON credentials (case_id);

CREATE TABLE trail_imports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    events_read BIGINT NOT NULL,
    events_matched BIGINT NOT NULL,
    events_new BIGINT NOT NULL,
    findings_new BIGINT NOT NULL,
    error TEXT
);

CREATE INDEX trail_imports_case ON trail_imports (case_id);

CREATE TABLE import_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    import_id BIGINT NOT NULL REFERENCES trail_imports (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT NOT NULL
);

CREATE INDEX import_files_import ON import_files (import_id);

CREATE TABLE trail_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    import_id BIGINT NOT NULL REFERENCES trail_imports (id),
    credential_id BIGINT NOT NULL REFERENCES credentials (id),
    event_id TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    event_name TEXT NOT NULL,
    event_source TEXT NOT NULL,
    region TEXT,
    source_ip TEXT,
    user_agent TEXT,
    access_key_id TEXT,
    principal TEXT,
    error_code TEXT,
    resource TEXT,
    raw TEXT NOT NULL,
    UNIQUE (case_id, event_id)
);

CREATE INDEX trail_events_case_time ON trail_events (case_id, event_time);

CREATE TABLE findings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    trail_event_id BIGINT NOT NULL UNIQUE REFERENCES trail_events (id) ON DELETE CASCADE,
    rule TEXT NOT NULL,
    category TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX findings_case ON findings (case_id);

CREATE TABLE stakeholders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (case_id, email)
);

-- Emails waiting for or done with delivery. A worker claims due rows by setting lease_until,
-- so two workers never send the same row at once.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT REFERENCES cases (id) ON DELETE CASCADE,
    stakeholder_id BIGINT REFERENCES stakeholders (id) ON DELETE SET NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_case ON outbox (case_id);
