//! Stakeholder communication: redaction reports, subscriptions, status updates, the
//! communications log and legal clocks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DeliveryStatus;

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
    ///
    /// NOTE: nothing sends `post_incident_report` yet, because Rekey has no report to publish.
    /// A stakeholder who follows `findings` receives those at or above their
    /// `finding_min_severity`.
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
    /// Severity of an eradication finding, from the rule that flagged its call.
    FindingSeverity {
        High = "high", "High";
        Medium = "medium", "Medium";
        Low = "low", "Low";
    }
);

impl FindingSeverity {
    /// Tells whether a finding of severity `self` is at or above `threshold`.
    pub fn at_least(self, threshold: FindingSeverity) -> bool {
        let rank = |severity: FindingSeverity| FindingSeverity::ALL.iter().position(|s| *s == severity);
        // ALL runs from high down to low, so a smaller position is more severe.
        rank(self) <= rank(threshold)
    }
}

impl Default for FindingSeverity {
    /// Low, the threshold that lets every finding through.
    fn default() -> Self {
        FindingSeverity::Low
    }
}

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
    /// Lowest severity of the findings emailed about; unchanged when absent.
    #[serde(default)]
    pub finding_min_severity: Option<FindingSeverity>,
}

/// Body of `POST /api/v1/cases/{number}/severity`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityChange {
    pub severity: crate::Severity,
}

/// Body of `POST /api/v1/cases/{number}/status-updates`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStatusUpdate {
    pub text: String,
}

/// A status update the lead sent to the stakeholders who follow status updates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StatusUpdate {
    pub id: i64,
    /// The text as stored, with secrets replaced by `[REDACTED]`.
    pub text: String,
    /// Kinds of secret removed from the text when it was saved.
    pub redactions: Vec<RedactionKind>,
    /// Stakeholders the update was queued for.
    pub recipients: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// When the next status update of a case is due, from its severity's cadence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UpdateSchedule {
    /// Seconds between status updates; `None` when the severity has no cadence or the case
    /// is closed.
    pub cadence_seconds: Option<i64>,
    pub last_update_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

/// A case whose status update is overdue, as listed by `GET /api/v1/status-updates/overdue`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OverdueUpdate {
    pub case_number: i64,
    pub due_at: DateTime<Utc>,
}

wire_enum!(
    /// How a message reached its recipient.
    Channel {
        Email = "email", "Email";
        Phone = "phone", "Phone call";
        Meeting = "meeting", "Meeting";
        Letter = "letter", "Letter";
        Portal = "portal", "Filing or web portal";
        Other = "other", "Other";
    }
);

/// Body of `POST /api/v1/cases/{number}/communications`: a message sent outside Rekey.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCommunication {
    pub channel: Channel,
    /// Who sent the message; the signed-in user when absent.
    #[serde(default)]
    pub sender: Option<String>,
    pub recipient: String,
    pub subject: String,
    #[serde(default)]
    pub content: String,
    /// RFC 3339 time with an offset or `Z`; the time of the request when absent.
    #[serde(default)]
    pub occurred_at: Option<String>,
}

/// One message in the communications log of a case: an email from the outbox or a message
/// recorded by hand.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommunicationEntry {
    /// `email-{outbox id}` for emails Rekey sent, `manual-{id}` for recorded messages.
    pub key: String,
    pub channel: Channel,
    pub sender: String,
    pub recipient: String,
    pub subject: String,
    pub content: String,
    /// When the message was sent; for an email not yet delivered, when it was queued.
    pub at: DateTime<Utc>,
    /// Delivery state of an email; `None` for a recorded message.
    pub delivery: Option<DeliveryStatus>,
    /// Who recorded a manual entry.
    pub recorded_by: Option<String>,
    /// Kinds of secret removed when the entry was saved; filled only in the response that
    /// records it.
    #[serde(default)]
    pub redactions: Vec<RedactionKind>,
}

/// Body of `POST /api/v1/cases/{number}/legal-clocks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLegalClock {
    /// What the deadline is for, such as `Personal-data breach report to the regulator`.
    pub name: String,
    /// RFC 3339 time with an offset or `Z` at which the organisation became aware.
    pub aware_at: String,
    /// Hours from awareness to the deadline, such as 72.
    pub deadline_hours: i64,
    /// Hours before the deadline at which the lead gets a reminder; 12 when absent.
    #[serde(default)]
    pub remind_before_hours: Option<i64>,
}

/// A legal deadline of a case and the time left.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LegalClock {
    pub id: i64,
    pub name: String,
    pub aware_at: DateTime<Utc>,
    pub deadline_at: DateTime<Utc>,
    pub remind_at: DateTime<Utc>,
    /// Seconds until the deadline at the time of the response; negative once it passed.
    pub seconds_left: i64,
    pub reminded_at: Option<DateTime<Utc>>,
    /// When the team marked the obligation met; no reminder follows after that.
    pub met_at: Option<DateTime<Utc>>,
}

/// Body of `POST /api/v1/admin/test-email`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEmailRequest {
    pub to: String,
}

/// Outcome of a test email: the SMTP server's reply, or why none came.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TestEmailResult {
    pub accepted: bool,
    /// SMTP reply code, such as 250; `None` when no reply arrived.
    pub code: Option<u16>,
    /// Reply text of the SMTP server, or the connection error.
    pub reply: String,
}

/// One delivery attempt of an email.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    /// `sent` or `failed`.
    pub outcome: DeliveryStatus,
    /// The SMTP server's reply to a sent email, or the error of a failed attempt.
    pub detail: Option<String>,
}
