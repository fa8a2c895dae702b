//! JSON bodies of the Rekey REST API under `/api/v1`.
//!
//! The server and the browser app both use these types, so a field renamed here is renamed
//! on both sides of the wire. Enumerations serialize as `snake_case` strings, times as RFC 3339
//! in UTC.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[macro_use]
mod enums;
mod access;
mod communication;
mod evidence;
mod trail;
mod validate;
mod workflow;

pub use access::*;
pub use communication::*;
pub use evidence::*;
pub use enums::*;
pub use trail::*;
pub use validate::*;
pub use workflow::*;

/// Error body of every failed API request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid`, `unauthorized`, `forbidden`, `not_found`,
    /// `conflict`, `stale_version`, `payload_too_large`, `internal`.
    pub code: String,
    /// Sentence for a person, naming the value and the fix.
    pub message: String,
    /// Request field the error is about, as a JSON path such as `compromise_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Version of the record now stored, sent with code `stale_version`. A client reloads the
    /// record and saves again with this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// Code from the authenticator app, for accounts with two-factor authentication.
    #[serde(default)]
    pub totp_code: Option<String>,
}

/// The signed-in user, returned by login and `GET /api/v1/session`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: UserRole,
    /// True when logins need a one-time code as well as the password.
    #[serde(default)]
    pub totp_enabled: bool,
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
    /// Hides the case from everyone but its members, managers included.
    #[serde(default)]
    pub restricted: bool,
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
    pub restricted: bool,
    /// The caller's role in the case; `None` when a manager reads it without being a member.
    pub my_role: Option<CaseRole>,
    /// Incremented by every edit; an edit must send the version it was based on.
    #[serde(default)]
    pub version: i64,
    /// For stakeholder accounts, the sections shared with them besides the overview; `None`
    /// for everyone else, who see every section their role allows.
    #[serde(default)]
    pub shared_sections: Option<Vec<String>>,
    /// Kinds of secret removed from the title and summary when the case was saved; filled only
    /// in the response that saves them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redactions: Vec<RedactionKind>,
}

/// Body of `PATCH /api/v1/cases/{number}`: the fields to change, and the version they are
/// based on. An empty `external_ref` or `compromise_time` clears it.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CaseUpdate {
    pub version: i64,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub detection_source: Option<DetectionSource>,
    #[serde(default)]
    pub external_ref: Option<String>,
    /// RFC 3339 time with a zone, as for a new case.
    #[serde(default)]
    pub compromise_time: Option<String>,
}

/// Body of `POST /api/v1/cases/{number}/phase`.
///
/// Moving to a later phase while tasks of the current phase, or of phases the move skips, are
/// open is rejected with 409 unless `force` is true. Then `reason` is required and is stored
/// with the change.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseChange {
    pub phase: Phase,
    #[serde(default)]
    pub force: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
    /// Credential whose call created this one, for a credential found in the trail.
    #[serde(default)]
    pub derived_from: Option<i64>,
    /// Whether Rekey proposed this credential from the trail and nobody has confirmed it yet.
    /// A proposed credential matches no trail event until it is confirmed.
    #[serde(default)]
    pub proposed: bool,
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
    /// Reason the import failed, as a failed import keeps nothing. For a completed import that
    /// was asked to keep the readable part, what it skipped.
    pub error: Option<String>,
}

/// A trail import still reading or storing, as `GET /api/v1/cases/{number}/imports/running`
/// lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunningImport {
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    pub files: Vec<String>,
    /// Bytes of the files read so far, and their total size, as uploaded (compressed or not).
    pub bytes_read: u64,
    pub bytes_total: u64,
    pub events_read: u64,
    /// True once reading is done and the kept events are being stored.
    #[serde(default)]
    pub storing: bool,
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
    /// Every resource the call names, `resource` first: ARNs, names and ids from its request,
    /// response and resource list, at most 50.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Error code of a failed call; `None` when the call succeeded.
    pub error_code: Option<String>,
    /// Whether the call failed, so the finding records an attempt rather than a change.
    /// It is true exactly when `error_code` is set.
    #[serde(default)]
    pub attempt: bool,
    /// Severity of the rule that flagged the call: `high`, `medium` or `low`. `None` for a
    /// finding recorded before rules had severities.
    #[serde(default)]
    pub severity: Option<String>,
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
    /// Lowest severity of the findings emailed about, when `subscriptions` contains
    /// `findings`; low, which covers every finding, when absent.
    #[serde(default)]
    pub finding_min_severity: FindingSeverity,
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
    /// Lowest severity of the findings emailed about.
    #[serde(default)]
    pub finding_min_severity: FindingSeverity,
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
