//! JSON bodies of the Rekey REST API under `/api/v1`.
//!
//! The server and the browser app both use these types, so a field renamed here is renamed
//! on both sides of the wire. Enumerations serialize as `snake_case` strings, times as RFC 3339
//! in UTC.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[macro_use]
mod enums;
mod communication;
mod validate;

pub use communication::*;
pub use enums::*;
pub use validate::*;

/// Error body of every failed API request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `payload_too_large`, `internal`.
    pub code: String,
    /// Sentence for a person, naming the value and the fix.
    pub message: String,
    /// Request field the error is about, as a JSON path such as `compromise_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The signed-in user, returned by login and `GET /api/v1/session`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: UserRole,
}

/// Server facts the app needs before showing a page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerStatus {
    pub version: String,
    /// False when no SMTP host is configured: notifications then wait in the outbox.
    pub mail_configured: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    pub title: String,
    #[serde(default)]
    pub summary: String,
    pub severity: Severity,
    pub detection_source: DetectionSource,
    #[serde(default)]
    pub external_ref: Option<String>,
    /// RFC 3339 time with an explicit offset or `Z`, such as `2023-07-10T12:20:00Z`.
    #[serde(default)]
    pub compromise_time: Option<String>,
}

/// A case as listed and opened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    pub number: i64,
    /// Display form of the number, such as `RK-7`.
    pub reference: String,
    pub title: String,
    pub summary: String,
    pub severity: Severity,
    pub detection_source: DetectionSource,
    pub external_ref: Option<String>,
    pub phase: Phase,
    pub compromise_time: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub credential_count: i64,
    pub finding_count: i64,
    /// Kinds of secret removed from the title and summary when the case was saved; filled only
    /// in the response that saves them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redactions: Vec<RedactionKind>,
}

/// Body of `POST /api/v1/cases/{number}/phase`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseChange {
    pub phase: Phase,
}

/// Body of `POST /api/v1/cases/{number}/credentials`.
///
/// Only identifiers: the server rejects a request that carries a secret.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    pub kind: CredentialKind,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub principal_type: Option<PrincipalType>,
    #[serde(default)]
    pub principal_name: Option<String>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Credential {
    pub id: i64,
    pub kind: CredentialKind,
    pub access_key_id: Option<String>,
    pub principal_type: Option<PrincipalType>,
    pub principal_name: Option<String>,
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    pub status: CredentialStatus,
    pub notes: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// One trail import: the files of one upload or CLI run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrailImport {
    pub id: i64,
    pub status: ImportStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub files: Vec<ImportedFile>,
    /// Events read from all files, matching or not.
    pub events_read: i64,
    /// Events of the case's credentials at or after the compromise time.
    pub events_matched: i64,
    /// Matched events not stored by an earlier import.
    pub events_new: i64,
    pub findings_new: i64,
    /// Why the import failed; a failed import keeps nothing.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImportedFile {
    pub name: String,
    pub size: i64,
    pub sha256: String,
}

/// An eradication finding: a sensitive call made with a case's credential.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Finding {
    pub id: i64,
    pub event_id: String,
    pub event_time: DateTime<Utc>,
    /// API call, such as `CreateAccessKey`.
    pub event_name: String,
    /// Service endpoint, such as `iam.amazonaws.com`.
    pub event_source: String,
    pub region: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub access_key_id: Option<String>,
    pub principal: Option<String>,
    /// Resource the call acted on, taken from its request parameters.
    pub resource: Option<String>,
    /// Error code of a failed call; `None` when the call succeeded.
    pub error_code: Option<String>,
    /// Name of the rule that flagged the call.
    pub rule: String,
    pub category: FindingCategory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStakeholder {
    pub name: String,
    pub email: String,
    pub role: StakeholderRole,
    #[serde(default)]
    pub audience: Audience,
    /// Event kinds the stakeholder receives email about; every kind when absent.
    #[serde(default = "all_event_kinds")]
    pub subscriptions: Vec<EventKind>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stakeholder {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: StakeholderRole,
    #[serde(default)]
    pub audience: Audience,
    #[serde(default)]
    pub subscriptions: Vec<EventKind>,
    pub created_at: DateTime<Utc>,
}

/// An email to a stakeholder and its delivery state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    pub id: i64,
    /// Stakeholder the email went to; `None` once the stakeholder is removed.
    #[serde(default)]
    pub stakeholder_id: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Time of the latest delivery attempt, successful or not.
    #[serde(default)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the worker tries a queued email next; `None` once sent or failed.
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Every delivery attempt, oldest first.
    #[serde(default)]
    pub history: Vec<DeliveryAttempt>,
}
