-- Playbooks and their tasks, and the record of each phase change. Same conventions as
-- 0001_initial.sql: times are BIGINT milliseconds since the Unix epoch in UTC, flags are 0
-- or 1, and every editable row carries a version that each update increments.

CREATE TABLE playbook_templates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    -- The template that new cases get; at most one row has 1.
    is_default INTEGER NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE playbook_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    template_id BIGINT NOT NULL REFERENCES playbook_templates (id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL
);

CREATE INDEX playbook_steps_template ON playbook_steps (template_id, position);

-- A case's checklist, copied from a template's steps when the case is created, so that a
-- later edit of the template leaves running cases as they are.
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    phase TEXT NOT NULL,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    skip_reason TEXT,
    assignee_id BIGINT REFERENCES users (id),
    due_at BIGINT,
    finished_by BIGINT REFERENCES users (id),
    finished_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX tasks_case ON tasks (case_id, position);

CREATE TABLE phase_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    from_phase TEXT NOT NULL,
    to_phase TEXT NOT NULL,
    -- 1 when the case moved on although tasks of from_phase, or of phases it skipped, were
    -- still open.
    forced INTEGER NOT NULL,
    reason TEXT,
    open_tasks BIGINT NOT NULL,
    changed_by BIGINT NOT NULL REFERENCES users (id),
    changed_at BIGINT NOT NULL
);

CREATE INDEX phase_changes_case ON phase_changes (case_id, changed_at);

INSERT INTO playbook_templates (name, description, is_default, version, created_at, updated_at)
VALUES (
    'Credential leakage',
    'Response to a leaked cloud credential, from detection to the post-incident report.',
    1, 1, 0, 0
);

INSERT INTO playbook_steps (template_id, phase, position, title, description)
SELECT t.id, s.phase, s.position, s.title, s.description
FROM playbook_templates t, (
    SELECT 'identification' AS phase, 1 AS position, 'Record how the incident was detected' AS title,
        'Detection source and external ticket reference.' AS description
    UNION ALL SELECT 'identification', 2, 'Record the end-user impact',
        'Record the impact on end users, or an explicit "no end-user impact" result.'
    UNION ALL SELECT 'identification', 3, 'Separate real alerts from noise',
        'Confirm the alert is a real leak and not a false positive.'
    UNION ALL SELECT 'identification', 4, 'Locate the leaked credentials',
        'User or role name and id, access key id, account id.'
    UNION ALL SELECT 'identification', 5, 'Set the compromise time',
        'Every call made with the credential after this time is treated as malicious.'
    UNION ALL SELECT 'identification', 6, 'Check the interruption cause against recent deployments',
        'If an application is down, record whether the leak or an unrelated change caused it.'
    UNION ALL SELECT 'identification', 7, 'Notify internal stakeholders',
        'Legal, technical teams and developers.'
    UNION ALL SELECT 'identification', 8, 'Inform legal, communications and, where required, law enforcement',
        'External communications staff, and a regulator or law enforcement where law requires.'
    UNION ALL SELECT 'containment', 9, 'Disable each leaked credential',
        'Record a containment action for every credential: who, when, who authorised it, result.'
    UNION ALL SELECT 'containment', 10, 'Pass the verification window',
        'Watch the audit logs for about 30 minutes after containment; the credential must not be used.'
    UNION ALL SELECT 'eradication', 11, 'Collect all calls since the compromise time',
        'Import the audit-log exports (CloudTrail, CTS) from the compromise time until now.'
    UNION ALL SELECT 'eradication', 12, 'Review the sensitive calls',
        'Data access, resource creation, permission and identity changes, deletions.'
    UNION ALL SELECT 'eradication', 13, 'Identify affected applications and notify their owners',
        'Record the affected resources and when each owner was notified.'
    UNION ALL SELECT 'eradication', 14, 'Contain the credentials the attacker created',
        'Users, access keys and role sessions created with a leaked credential are leaked too.'
    UNION ALL SELECT 'recovery', 15, 'Restore modified and deleted resources',
        'Replace, restore from backup, rebuild from the CMDB, isolate or destroy each resource.'
    UNION ALL SELECT 'post_incident', 16, 'Complete forensics on isolated resources',
        'Add the forensic findings to the report.'
    UNION ALL SELECT 'post_incident', 17, 'Update the CMDB',
        'Make the configuration management database match reality.'
    UNION ALL SELECT 'post_incident', 18, 'Review lessons learned',
        'What worked and what did not, with improvement actions and owners.'
) s
WHERE t.name = 'Credential leakage';

-- Lifecycle of leaked credentials. The version guards status changes against concurrent
-- edits; each change is kept in credential_status_changes.
ALTER TABLE credentials ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

CREATE TABLE credential_status_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    credential_id BIGINT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    from_status TEXT NOT NULL,
    to_status TEXT NOT NULL,
    note TEXT NOT NULL,
    changed_by BIGINT NOT NULL REFERENCES users (id),
    changed_at BIGINT NOT NULL
);

CREATE INDEX credential_status_changes_credential ON credential_status_changes (credential_id, changed_at);

-- What was done to stop a leaked credential from working. performed_by and authorised_by
-- are names, because the person may have no Rekey account.
CREATE TABLE containment_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    credential_id BIGINT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    performed_by TEXT NOT NULL,
    performed_at BIGINT NOT NULL,
    authorised_by TEXT NOT NULL,
    result TEXT NOT NULL,
    notes TEXT NOT NULL,
    reversible INTEGER NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX containment_actions_credential ON containment_actions (credential_id, performed_at);

-- Impact of the incident. A case with no end-user impact gets an explicit record of kind
-- no_end_user_impact, so "none" is distinguishable from "not yet assessed".
CREATE TABLE impact_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    users_affected BIGINT,
    severity TEXT,
    version BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX impact_records_case ON impact_records (case_id);

CREATE TABLE affected_resources (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    name TEXT NOT NULL,
    account_id TEXT,
    region TEXT,
    owner_name TEXT,
    owner_email TEXT,
    owner_notified_at BIGINT,
    version BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (case_id, resource_type, resource_id)
);

CREATE TABLE resource_findings (
    resource_id BIGINT NOT NULL REFERENCES affected_resources (id) ON DELETE CASCADE,
    finding_id BIGINT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    PRIMARY KEY (resource_id, finding_id)
);

CREATE TABLE recovery_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    resource_id BIGINT NOT NULL REFERENCES affected_resources (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    performed_by BIGINT REFERENCES users (id),
    done_at BIGINT,
    cmdb_updated INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX recovery_actions_resource ON recovery_actions (resource_id);

-- Time zone (IANA name such as Europe/Berlin) in which the user reads times; NULL means the
-- browser's zone.
ALTER TABLE users ADD COLUMN time_zone TEXT;

-- Timeline entries written by hand. Everything else on the timeline is read from the records
-- it describes. zone_offset keeps the offset the time was given with, such as +02:00.
CREATE TABLE timeline_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id BIGINT NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    occurred_at BIGINT NOT NULL,
    zone_offset TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX timeline_entries_case ON timeline_entries (case_id, occurred_at);
