-- Lowest finding severity a stakeholder who follows findings receives email about: high,
-- medium or low. The default, low, covers every finding.
ALTER TABLE stakeholders ADD COLUMN finding_min_severity TEXT NOT NULL DEFAULT 'low';
