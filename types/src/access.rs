//! Accounts, sessions and case membership.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CaseRole, TokenScope, UserRole};

/// A user account as administrators see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserAccount {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: UserRole,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    pub role: UserRole,
    /// Initial password; when absent the server generates one and returns it once.
    #[serde(default)]
    pub password: Option<String>,
}

/// Response of `POST /api/v1/users`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreatedUser {
    pub user: UserAccount,
    /// The generated password, present only when the request gave none. It is not stored in
    /// clear and cannot be shown again.
    pub generated_password: Option<String>,
}

/// Body of `PATCH /api/v1/users/{id}`; absent fields stay as they are.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[serde(default)]
    pub role: Option<UserRole>,
    /// Disabling a user ends all of their sessions.
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Sets a new password and ends all of the user's sessions.
    #[serde(default)]
    pub reset_password: Option<String>,
}

/// Body of `POST /api/v1/account/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// A login session of the signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionInfo {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// True for the session that made this request.
    pub current: bool,
}

/// Response of `POST /api/v1/account/totp/setup`: the secret to enter in an authenticator
/// app. It takes effect once a code made from it is confirmed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TotpSetup {
    /// Base32 secret, for typing into the app.
    pub secret: String,
    /// `otpauth://` URI, for apps that open links or read QR codes.
    pub uri: String,
}

/// Body of `POST /api/v1/account/totp/enable`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirm {
    pub code: String,
}

/// Body of `POST /api/v1/account/totp/disable`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpDisable {
    pub current_password: String,
}

/// A member of a case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseMember {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: CaseRole,
    pub added_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/cases/{number}/members`; adding an existing member changes their role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCaseMember {
    pub username: String,
    pub role: CaseRole,
}

/// An API token for automation, without its secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub scopes: Vec<TokenScope>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// Body of `POST /api/v1/account/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewApiToken {
    pub name: String,
    pub scopes: Vec<TokenScope>,
    /// Days until the token expires, 1 to 365; 90 when absent.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// Response of `POST /api/v1/account/tokens`. The secret is shown only here; the server
/// keeps its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CreatedApiToken {
    pub token: ApiToken,
    /// Value for the `Authorization: Bearer` header.
    pub secret: String,
}

/// Body of `POST /api/v1/cases/{number}/invitations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    pub name: String,
    pub email: String,
    /// Case sections the stakeholder may read besides the overview, such as `notifications`.
    #[serde(default)]
    pub sections: Vec<String>,
    /// Hours until the link expires, 1 to 336; 72 when absent.
    #[serde(default)]
    pub expires_in_hours: Option<u32>,
}

/// An invitation of a stakeholder to one case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Invitation {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub sections: Vec<String>,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// Single-use link to accept the invitation, present only in the response that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Preview that the invitation link shows before it is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InvitationPreview {
    pub case_reference: String,
    pub name: String,
    pub email: String,
    pub invited_by: String,
    pub expires_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/invitations/{token}/accept`: the new stakeholder account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    pub username: String,
    pub password: String,
}

/// Case sections that can be shared with stakeholder accounts. The overview is always shared;
/// trail events, findings and the rest only when listed.
pub const SHAREABLE_SECTIONS: &[&str] = &[
    "credentials",
    "imports",
    "findings",
    "stakeholders",
    "notifications",
    "status-updates",
    "legal-clocks",
    "communications",
    "members",
    "timeline",
    "tasks",
    "phase-changes",
    "containment",
    "impacts",
    "resources",
];

/// One row of the tamper-evident audit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEntry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub client_address: Option<String>,
    /// Action recorded, such as `login_failed` or `case_created`.
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub case_number: Option<i64>,
    /// JSON object with the details, such as the values before and after a change.
    pub details: serde_json::Value,
}

/// Result of walking the audit log's hash chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditVerification {
    pub rows_checked: i64,
    /// The first row where the chain breaks, with the reason; `None` when it is intact.
    pub first_break: Option<AuditBreak>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditBreak {
    pub row_id: i64,
    pub reason: String,
}
