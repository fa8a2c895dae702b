//! Stakeholder communication: redaction reports, subscriptions, status updates, the
//! communications log and legal clocks.

use serde::{Deserialize, Serialize};

wire_enum!(
    /// Kind of secret that Rekey replaced with `[REDACTED]` in a text before storing or
    /// emailing it.
    RedactionKind {
        CloudSecretKey = "cloud_secret_key", "Cloud secret access key";
        Password = "password", "Password or secret in key=value form";
        BearerToken = "bearer_token", "Bearer token";
        PrivateKey = "private_key", "Private key";
        ApiToken = "api_token", "API token";
    }
);

wire_enum!(
    /// Kind of case event a stakeholder can subscribe to.
    EventKind {
        PhaseChanges = "phase_changes", "Phase changes";
        Findings = "findings", "New eradication findings";
        SeverityChanges = "severity_changes", "Severity changes";
        ContainmentComplete = "containment_complete", "Containment complete";
        StatusUpdates = "status_updates", "Status updates";
        PostIncidentReport = "post_incident_report", "Post-incident report";
    }
);

wire_enum!(
    /// Whether a stakeholder belongs to the organisation running the case.
    Audience {
        Internal = "internal", "Internal";
        External = "external", "External";
    }
);

impl Default for Audience {
    fn default() -> Self {
        Audience::Internal
    }
}

/// Returns every event kind: the subscriptions of a stakeholder added without a choice.
pub fn all_event_kinds() -> Vec<EventKind> {
    EventKind::ALL.to_vec()
}

/// Body of `PUT /api/v1/cases/{number}/stakeholders/{id}/subscriptions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsUpdate {
    pub subscriptions: Vec<EventKind>,
}

/// Body of `POST /api/v1/cases/{number}/severity`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityChange {
    pub severity: crate::Severity,
}
