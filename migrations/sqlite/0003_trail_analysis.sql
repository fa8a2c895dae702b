-- Derived credentials and the trail events kept for re-analysis.
--
-- A credential that a case credential created (CreateAccessKey, AssumeRole and the like) is
-- proposed with derived_from pointing at its creator and proposed = 1 (flags are INTEGER 0 or
-- 1). A proposed credential matches no trail event until someone confirms it.
--
-- unmatched_events keeps every event of an import at or after the compromise time that no
-- credential of the case matched, so that confirming a credential can pick up its calls
-- without a new upload. A row moves to trail_events when a confirmed credential matches it.
-- The raw JSON is the whole record; the other columns serve the lookup by credential.

ALTER TABLE credentials ADD COLUMN derived_from BIGINT REFERENCES credentials (id) ON DELETE SET NULL;
ALTER TABLE credentials ADD COLUMN proposed INTEGER NOT NULL DEFAULT 0;
-- eventID of the call that created a derived credential.
ALTER TABLE credentials ADD COLUMN derived_event_id TEXT;

CREATE TABLE unmatched_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    import_id BIGINT NOT NULL REFERENCES trail_imports (id),
    event_id TEXT NOT NULL,
    event_time BIGINT NOT NULL,
    access_key_id TEXT,
    principal_name TEXT,
    raw TEXT NOT NULL,
    UNIQUE (case_id, event_id)
);

CREATE INDEX unmatched_events_key ON unmatched_events (case_id, access_key_id);
CREATE INDEX unmatched_events_principal ON unmatched_events (case_id, principal_name);

-- Rules that turn trail events into findings. The server inserts the built-in rules at start-up
-- (builtin = 1) and updates their patterns on upgrade, keeping enabled as an admin set it.
-- Admins add rules of their own (builtin = 0). An event takes the first enabled rule that
-- matches, trying added rules before built-in ones, each group in ascending position.
CREATE TABLE finding_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    category TEXT NOT NULL,
    -- high, medium or low.
    severity TEXT NOT NULL,
    -- any, aws or huawei.
    provider TEXT NOT NULL,
    -- Event-name patterns with * wildcards, one per line.
    patterns TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    builtin INTEGER NOT NULL DEFAULT 0,
    position BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Severity of the rule that made the finding, when it was recorded.
ALTER TABLE findings ADD COLUMN severity TEXT;

-- Resources that a finding's event names: ARNs, names and ids from its request, response and
-- resource list, at most 50 per finding.
CREATE TABLE finding_resources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    finding_id BIGINT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    UNIQUE (finding_id, resource)
);

CREATE INDEX finding_resources_case ON finding_resources (case_id, resource);
