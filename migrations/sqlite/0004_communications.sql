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
