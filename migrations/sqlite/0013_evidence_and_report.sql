-- Evidence with its chain of custody, the lessons learned of the post-incident report, and
-- the improvement actions that come out of it. Same conventions as 0001_initial.sql.

-- One uploaded or imported file. The content lives in the evidence store under its SHA-256,
-- so two rows with the same content share one stored file.
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    -- Media type read from the content; claimed_media_type is what the file name or the
    -- uploader said, kept so that a mismatch stays visible.
    media_type TEXT NOT NULL,
    claimed_media_type TEXT,
    original_name TEXT NOT NULL,
    description TEXT NOT NULL,
    source TEXT NOT NULL,
    import_id BIGINT REFERENCES trail_imports (id) ON DELETE SET NULL,
    legal_hold INTEGER NOT NULL DEFAULT 0,
    uploaded_by BIGINT NOT NULL REFERENCES users (id),
    uploaded_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1
);

CREATE INDEX evidence_case ON evidence (case_id, uploaded_at);
CREATE INDEX evidence_sha256 ON evidence (sha256);

-- Who touched a piece of evidence, when, how and from where. Rows are only ever added.
CREATE TABLE custody_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    evidence_id BIGINT NOT NULL REFERENCES evidence (id) ON DELETE CASCADE,
    occurred_at BIGINT NOT NULL,
    actor_id BIGINT REFERENCES users (id),
    actor_name TEXT NOT NULL,
    client_address TEXT,
    action TEXT NOT NULL,
    details TEXT NOT NULL
);

CREATE INDEX custody_entries_evidence ON custody_entries (evidence_id, id);

-- Evidence supporting a finding, containment action, affected resource or timeline entry.
CREATE TABLE evidence_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    evidence_id BIGINT NOT NULL REFERENCES evidence (id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL,
    target_id BIGINT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    UNIQUE (evidence_id, target_kind, target_id)
);

CREATE INDEX evidence_links_target ON evidence_links (target_kind, target_id);

-- The lessons-learned section of a case, one row per case once someone writes it.
CREATE TABLE lessons_learned (
    case_id BIGINT PRIMARY KEY REFERENCES cases (id) ON DELETE CASCADE,
    what_worked TEXT NOT NULL,
    what_did_not_work TEXT NOT NULL,
    root_cause TEXT NOT NULL,
    detection_gaps TEXT NOT NULL,
    forensic_findings TEXT NOT NULL,
    cmdb_updated INTEGER NOT NULL DEFAULT 0,
    cmdb_confirmed_by BIGINT REFERENCES users (id),
    cmdb_confirmed_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    updated_by BIGINT NOT NULL REFERENCES users (id),
    updated_at BIGINT NOT NULL
);

CREATE TABLE improvement_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    owner TEXT NOT NULL,
    due_at BIGINT,
    status TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX improvement_actions_case ON improvement_actions (case_id);
