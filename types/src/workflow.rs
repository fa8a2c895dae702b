//! Playbooks, the checklist tasks they give each case, and the record of phase changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Phase;

wire_enum!(
    /// Progress of a checklist task. Done and skipped tasks are finished; the others are open.
    TaskStatus {
        Todo = "todo", "To do";
        InProgress = "in_progress", "In progress";
        Done = "done", "Done";
        Skipped = "skipped", "Skipped";
    }
);

impl TaskStatus {
    pub fn is_open(self) -> bool {
        matches!(self, TaskStatus::Todo | TaskStatus::InProgress)
    }
}

impl Phase {
    /// Tells whether this phase comes later in the response than `other`.
    pub fn is_after(self, other: Phase) -> bool {
        let position = |phase: Phase| Phase::ALL.iter().position(|p| *p == phase);
        position(self) > position(other)
    }
}

/// One checklist task of a case, copied from a playbook step when the case was created.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub id: i64,
    pub phase: Phase,
    /// Order of the task within the case's checklist.
    pub position: i64,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    /// Reason the task was skipped, set exactly when `status` is `skipped`.
    pub skip_reason: Option<String>,
    /// Username of the assignee.
    pub assignee: Option<String>,
    pub assignee_name: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    /// Display name of the user who marked the task done or skipped.
    pub finished_by: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Incremented by every change; send it back with the next change.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Body of `PATCH /api/v1/cases/{number}/tasks/{id}`. Absent fields stay as they are.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TaskUpdate {
    /// The `version` of the task the change was based on; a stale one gets 409.
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// Required when `status` is `skipped`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Username of the new assignee; an empty string removes the assignee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// RFC 3339 time with a zone; an empty string removes the due time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
}

/// A step of a playbook template: it becomes one task of each new case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlaybookStep {
    pub phase: Phase,
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// A stored playbook template. New cases get the tasks of the default one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PlaybookTemplate {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    /// Steps in checklist order.
    pub steps: Vec<PlaybookStep>,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Body of `POST /api/v1/playbooks` and `PUT /api/v1/playbooks/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaybookInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub is_default: bool,
    pub steps: Vec<PlaybookStep>,
    /// Required by `PUT`: the version the edit was based on.
    #[serde(default)]
    pub version: Option<i64>,
}

/// A recorded phase change of a case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseChangeRecord {
    pub id: i64,
    pub from_phase: Phase,
    pub to_phase: Phase,
    /// True when the case moved on although tasks of `from_phase`, or of phases it skipped,
    /// were still open.
    pub forced: bool,
    pub reason: Option<String>,
    /// Tasks of `from_phase` and of skipped phases still open at the time of the change.
    pub open_tasks: i64,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

wire_enum!(
    /// Kind of containment action. `ContainmentKind::for_credential` lists the kinds that fit
    /// each kind of credential.
    ContainmentKind {
        DisableAccessKey = "disable_access_key", "Disable the access key";
        DeleteAccessKey = "delete_access_key", "Delete the access key";
        DisableUser = "disable_user", "Disable the user";
        DeleteUser = "delete_user", "Delete the user";
        ResetPassword = "reset_password", "Reset the password";
        RevokeRoleSessions = "revoke_role_sessions", "Revoke all role sessions";
        AttachDenyAllPolicy = "attach_deny_all_policy", "Attach a deny-all policy to the role";
        RemoveRolePolicies = "remove_role_policies", "Remove the role's policies";
        ChangeTrustPolicy = "change_trust_policy", "Change the role's trust policy";
        RevokeToken = "revoke_token", "Revoke the token";
        Other = "other", "Other";
    }
);

/// Warning shown with every containment action on temporary role credentials.
pub const ROLE_CONTAINMENT_WARNING: &str = "Tokens already issued for the role stay valid until \
    they expire, so watch the trail until the longest session has run out. These steps also \
    cut off legitimate users and services of the role.";

impl ContainmentKind {
    /// Kinds that fit a credential of `kind`: key and user actions for permanent user
    /// credentials, session and policy actions for temporary role credentials.
    pub fn for_credential(kind: crate::CredentialKind) -> &'static [ContainmentKind] {
        use crate::CredentialKind as Credential;
        use ContainmentKind::*;
        match kind {
            Credential::AccessKey => &[
                DisableAccessKey,
                DeleteAccessKey,
                DisableUser,
                DeleteUser,
                Other,
            ],
            Credential::IamUserPassword => &[ResetPassword, DisableUser, DeleteUser, Other],
            Credential::TemporaryRoleCredentials => &[
                RevokeRoleSessions,
                AttachDenyAllPolicy,
                RemoveRolePolicies,
                ChangeTrustPolicy,
                Other,
            ],
            Credential::ApiToken => &[RevokeToken, Other],
            Credential::Other => ContainmentKind::ALL,
        }
    }

    /// Warning for the person recording the action, for the role-wide kinds.
    pub fn warning(self) -> Option<&'static str> {
        match self {
            ContainmentKind::RevokeRoleSessions
            | ContainmentKind::AttachDenyAllPolicy
            | ContainmentKind::RemoveRolePolicies
            | ContainmentKind::ChangeTrustPolicy => Some(ROLE_CONTAINMENT_WARNING),
            _ => None,
        }
    }
}

wire_enum!(
    ContainmentResult {
        Succeeded = "succeeded", "Succeeded";
        Partial = "partial", "Partly succeeded";
        Failed = "failed", "Failed";
    }
);

/// Body of `POST /api/v1/cases/{number}/credentials/{id}/containment-actions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewContainmentAction {
    pub kind: ContainmentKind,
    /// Name of the person who did it; the signed-in user when absent.
    #[serde(default)]
    pub performed_by: Option<String>,
    /// RFC 3339 time with a zone; now when absent.
    #[serde(default)]
    pub performed_at: Option<String>,
    /// Name of the person who approved it.
    pub authorised_by: String,
    pub result: ContainmentResult,
    #[serde(default)]
    pub notes: String,
    pub reversible: bool,
}

/// Body of `PATCH /api/v1/cases/{number}/containment-actions/{id}`. Absent fields stay.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ContainmentActionUpdate {
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ContainmentResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reversible: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainmentAction {
    pub id: i64,
    pub credential_id: i64,
    pub kind: ContainmentKind,
    pub performed_by: String,
    pub performed_at: DateTime<Utc>,
    pub authorised_by: String,
    pub result: ContainmentResult,
    pub notes: String,
    pub reversible: bool,
    /// `ROLE_CONTAINMENT_WARNING` for role-wide kinds.
    pub warning: Option<String>,
    /// Display name of the user who recorded the action.
    pub recorded_by: String,
    pub version: i64,
}

/// Body of `POST /api/v1/cases/{number}/credentials/{id}/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialStatusUpdate {
    pub status: crate::CredentialStatus,
    /// The credential's `version` the change was based on.
    pub version: i64,
    #[serde(default)]
    pub note: String,
}

/// One step of a credential's lifecycle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialStatusChange {
    /// `None` for the status the credential was recorded with.
    pub from_status: Option<crate::CredentialStatus>,
    pub to_status: crate::CredentialStatus,
    pub note: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

wire_enum!(
    /// Outcome of the verification window after a credential's last containment action.
    VerificationState {
        NotContained = "not_contained", "No containment action yet";
        Watching = "watching", "Verification window running";
        Passed = "passed", "Verification window passed without use";
        UsedAfterContainment = "used_after_containment", "Used after containment";
    }
);

/// The verification window of one credential, checked against the imported trail events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verification {
    pub state: VerificationState,
    /// Time of the last containment action that did not fail.
    pub contained_at: Option<DateTime<Utc>>,
    pub window_minutes: i64,
    pub window_ends_at: Option<DateTime<Utc>>,
    /// Imported trail events of the credential after `contained_at`, failed calls included.
    pub events_after: i64,
    /// Number of `events_after` that succeeded.
    pub succeeded_after: i64,
    pub first_use_after: Option<DateTime<Utc>>,
}

/// Containment state of one leaked credential: lifecycle, actions and verification window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialContainment {
    pub credential_id: i64,
    /// Access key id or principal name.
    pub label: String,
    pub kind: crate::CredentialKind,
    pub status: crate::CredentialStatus,
    /// Version of the credential's status; send it with the next status change.
    pub version: i64,
    /// Containment kinds that fit the credential's kind.
    pub action_kinds: Vec<ContainmentKind>,
    pub history: Vec<CredentialStatusChange>,
    pub actions: Vec<ContainmentAction>,
    pub verification: Verification,
}

wire_enum!(
    /// Kind of impact record. `no_end_user_impact` records the assessed result "none".
    ImpactKind {
        EndUserImpact = "end_user_impact", "End-user impact";
        NoEndUserImpact = "no_end_user_impact", "No end-user impact";
        ServiceInterruption = "service_interruption", "Service interruption";
        DataExposure = "data_exposure", "Data exposure";
        ResourceCompromise = "resource_compromise", "Resource compromise";
        Cost = "cost", "Cost";
    }
);

wire_enum!(
    ImpactSeverity {
        Low = "low", "Low";
        Medium = "medium", "Medium";
        High = "high", "High";
        Critical = "critical", "Critical";
    }
);

/// Body of `POST /api/v1/cases/{number}/impacts` and, with `version`, of
/// `PUT /api/v1/cases/{number}/impacts/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImpactInput {
    pub kind: ImpactKind,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub users_affected: Option<i64>,
    /// Required for every kind except `no_end_user_impact`, which takes none.
    #[serde(default)]
    pub severity: Option<ImpactSeverity>,
    /// Required by `PUT`: the version the edit was based on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImpactRecord {
    pub id: i64,
    pub kind: ImpactKind,
    pub description: String,
    pub users_affected: Option<i64>,
    pub severity: Option<ImpactSeverity>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

/// Body of `POST /api/v1/cases/{number}/resources` and, with `version`, of
/// `PUT /api/v1/cases/{number}/resources/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ResourceInput {
    /// Service and type, such as `iam` or `ec2:instance`.
    pub resource_type: String,
    /// Id or ARN, unique per type within the case.
    pub resource_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub owner_name: Option<String>,
    #[serde(default)]
    pub owner_email: Option<String>,
    /// RFC 3339 time with a zone at which the owner was told.
    #[serde(default)]
    pub owner_notified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// A resource the attacker created, changed, deleted or read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AffectedResource {
    pub id: i64,
    pub resource_type: String,
    pub resource_id: String,
    pub name: String,
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub owner_name: Option<String>,
    pub owner_email: Option<String>,
    pub owner_notified_at: Option<DateTime<Utc>>,
    /// Ids of the findings whose calls acted on the resource.
    pub finding_ids: Vec<i64>,
    /// `None` for a resource created from a finding.
    pub created_by: Option<String>,
    pub recovery_actions: Vec<RecoveryAction>,
    pub version: i64,
}

wire_enum!(
    RecoveryKind {
        Replace = "replace", "Replace (destroy and recreate)";
        RestoreFromBackup = "restore_from_backup", "Restore from backup";
        RebuildFromCmdb = "rebuild_from_cmdb", "Rebuild from the CMDB";
        Isolate = "isolate", "Build a clean replacement and isolate";
        Destroy = "destroy", "Destroy";
        KeepForForensics = "keep_for_forensics", "Keep isolated for forensics";
    }
);

wire_enum!(
    RecoveryStatus {
        Planned = "planned", "Planned";
        InProgress = "in_progress", "In progress";
        Done = "done", "Done";
        Failed = "failed", "Failed";
    }
);

/// Body of `POST /api/v1/cases/{number}/resources/{id}/recovery-actions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRecoveryAction {
    pub kind: RecoveryKind,
    #[serde(default = "planned")]
    pub status: RecoveryStatus,
    #[serde(default)]
    pub notes: String,
}

fn planned() -> RecoveryStatus {
    RecoveryStatus::Planned
}

/// Body of `PATCH /api/v1/cases/{number}/recovery-actions/{id}`. Absent fields stay.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RecoveryActionUpdate {
    pub version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RecoveryStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdb_updated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecoveryAction {
    pub id: i64,
    pub resource_id: i64,
    pub kind: RecoveryKind,
    pub status: RecoveryStatus,
    /// Display name of the user who marked it done or failed.
    pub performed_by: Option<String>,
    pub done_at: Option<DateTime<Utc>>,
    pub cmdb_updated: bool,
    pub notes: String,
    pub version: i64,
}

wire_enum!(
    /// Whose doing a timeline entry records.
    TimelineCategory {
        Incident = "incident", "What happened";
        Response = "response", "What the team did";
    }
);

/// One entry of a case's timeline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub category: TimelineCategory,
    /// Record the entry comes from, such as `phase_change`, `trail_event` or `manual`.
    pub source: String,
    pub title: String,
    pub detail: String,
    /// Display name of the person who acted, when known.
    pub actor: Option<String>,
}

/// Body of `POST /api/v1/cases/{number}/timeline`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTimelineEntry {
    /// RFC 3339 time with an explicit offset or `Z`; a time without a zone is rejected.
    pub occurred_at: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
}

/// Body of `GET` and `PUT /api/v1/preferences`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// IANA time zone such as `Europe/Berlin` in which the app shows times; `None` means the
    /// browser's zone.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// Checks the form of an IANA time zone name such as `Europe/Berlin` or `UTC`.
///
/// NOTE: only the form is checked here. The browser app also checks that its Intl database
/// knows the zone before saving; an API client can store a well-formed unknown name, which
/// the app then shows in the browser's zone.
pub fn validate_time_zone_name(value: &str) -> Result<(), String> {
    let valid_chars = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    let well_formed = !value.is_empty()
        && value.len() <= 64
        && valid_chars
        && !value.starts_with('/')
        && !value.ends_with('/')
        && !value.contains("//");
    if !well_formed {
        return Err(format!(
            "'{value}' is not a time zone name; use an IANA name such as Europe/Berlin or UTC"
        ));
    }
    Ok(())
}
