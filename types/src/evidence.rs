//! Evidence and its chain of custody, the post-incident report and the manager dashboard.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    AffectedResource, AuditVerification, Case, CommunicationEntry, Credential, CredentialContainment,
    FindingCategory, ImpactRecord, Phase, PhaseChangeRecord, Severity, Task, TimelineEntry,
};

wire_enum!(
    /// Action on a piece of evidence, recorded as one chain-of-custody entry.
    CustodyAction {
        Upload = "upload", "Uploaded";
        Import = "import", "Kept from a trail import";
        View = "view", "Viewed";
        Download = "download", "Downloaded";
        Verify = "verify", "Hash verified";
        IntegrityFailure = "integrity_failure", "Hash mismatch found";
        Export = "export", "Exported";
        LegalHoldOn = "legal_hold_on", "Legal hold placed";
        LegalHoldOff = "legal_hold_off", "Legal hold lifted";
        Link = "link", "Linked";
        Unlink = "unlink", "Unlinked";
    }
);

wire_enum!(
    /// Kind of record a piece of evidence supports.
    EvidenceLinkKind {
        Finding = "finding", "Finding";
        ContainmentAction = "containment_action", "Containment action";
        AffectedResource = "affected_resource", "Affected resource";
        TimelineEntry = "timeline_entry", "Timeline entry";
    }
);

/// A file kept with a case. Its content is stored under its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    pub id: i64,
    pub sha256: String,
    pub size: i64,
    /// Media type read from the file's content.
    pub media_type: String,
    /// Media type the file name or the uploader claimed, when it differs from `media_type`.
    #[serde(default)]
    pub claimed_media_type: Option<String>,
    pub original_name: String,
    pub description: String,
    /// Origin of the file, such as "CloudTrail export from the security account".
    pub source: String,
    /// Trail import that kept this file, for imported trail files.
    #[serde(default)]
    pub import_id: Option<i64>,
    pub legal_hold: bool,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
    #[serde(default)]
    pub links: Vec<EvidenceLink>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EvidenceLink {
    pub kind: EvidenceLinkKind,
    pub target_id: i64,
}

/// One piece of evidence with its chain of custody, oldest entry first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvidenceDetail {
    pub evidence: Evidence,
    pub custody: Vec<CustodyEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CustodyEntry {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    pub client_address: Option<String>,
    pub action: CustodyAction,
    pub details: String,
}

/// Body of `PUT /api/v1/cases/{number}/evidence/{id}/legal-hold`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldChange {
    pub legal_hold: bool,
    pub version: i64,
    #[serde(default)]
    pub reason: String,
}

/// Result of re-hashing one stored evidence file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvidenceCheck {
    pub evidence_id: i64,
    pub expected_sha256: String,
    /// Hash of the stored content now; `None` when the content is missing.
    pub actual_sha256: Option<String>,
    pub intact: bool,
}

/// Result of `rekey verify` and `GET /api/v1/audit/verify`: the audit chain and every
/// evidence file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IntegrityReport {
    #[serde(flatten)]
    pub audit: AuditVerification,
    pub evidence_checked: i64,
    /// First evidence file whose content no longer matches its hash.
    pub first_evidence_break: Option<EvidenceCheck>,
}

wire_enum!(
    /// Progress of an improvement action from the lessons learned.
    ImprovementStatus {
        Open = "open", "Open";
        InProgress = "in_progress", "In progress";
        Done = "done", "Done";
        Dropped = "dropped", "Dropped";
    }
);

/// The lessons-learned section of a case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct LessonsLearned {
    pub what_worked: String,
    pub what_did_not_work: String,
    pub root_cause: String,
    pub detection_gaps: String,
    /// Results of forensics on isolated resources.
    pub forensic_findings: String,
    pub cmdb_updated: bool,
    pub cmdb_confirmed_by: Option<String>,
    pub cmdb_confirmed_at: Option<DateTime<Utc>>,
    /// 0 while nothing has been written.
    pub version: i64,
    pub improvement_actions: Vec<ImprovementAction>,
}

/// Body of `PUT /api/v1/cases/{number}/lessons`; `version` is 0 for the first save.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LessonsInput {
    pub version: i64,
    #[serde(default)]
    pub what_worked: String,
    #[serde(default)]
    pub what_did_not_work: String,
    #[serde(default)]
    pub root_cause: String,
    #[serde(default)]
    pub detection_gaps: String,
    #[serde(default)]
    pub forensic_findings: String,
    #[serde(default)]
    pub cmdb_updated: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImprovementAction {
    pub id: i64,
    pub description: String,
    pub owner: String,
    pub due_at: Option<DateTime<Utc>>,
    pub status: ImprovementStatus,
    pub version: i64,
}

/// Body of `POST /api/v1/cases/{number}/improvements` and of its `PUT …/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImprovementInput {
    pub description: String,
    pub owner: String,
    /// RFC 3339 time with a zone; empty for no due date.
    #[serde(default)]
    pub due_at: Option<String>,
    #[serde(default = "open_status")]
    pub status: ImprovementStatus,
    /// Required when changing an existing action.
    #[serde(default)]
    pub version: Option<i64>,
}

fn open_status() -> ImprovementStatus {
    ImprovementStatus::Open
}

/// A duration computed from recorded times, with how it is defined.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ResponseTime {
    pub name: String,
    pub definition: String,
    /// `None` when one of the two recorded times is missing.
    pub seconds: Option<i64>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CategoryCount {
    pub category: FindingCategory,
    pub findings: i64,
    pub attempts: i64,
}

/// Largest number of resources and of timeline entries listed in a report, so that a case with
/// hundreds of thousands of calls still gives a report people can read.
pub const REPORT_LIST_LIMIT: usize = 500;

/// The post-incident report, assembled from the case's records when requested.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub case: Case,
    pub generated_at: DateTime<Utc>,
    pub times: Vec<ResponseTime>,
    pub credentials: Vec<Credential>,
    /// Lifecycle, containment actions and verification window of each credential.
    pub containment: Vec<CredentialContainment>,
    pub phase_changes: Vec<PhaseChangeRecord>,
    pub findings_by_category: Vec<CategoryCount>,
    pub finding_total: i64,
    pub impacts: Vec<ImpactRecord>,
    /// The first affected resources, at most `REPORT_LIST_LIMIT`; `resources_total` counts all.
    pub resources: Vec<AffectedResource>,
    #[serde(default)]
    pub resources_total: i64,
    pub communications: Vec<CommunicationEntry>,
    /// The first timeline entries, at most `REPORT_LIST_LIMIT`; `timeline_total` counts all.
    pub timeline: Vec<TimelineEntry>,
    #[serde(default)]
    pub timeline_total: i64,
    pub tasks: Vec<Task>,
    pub evidence: Vec<Evidence>,
    pub lessons: LessonsLearned,
}

/// Open cases of one phase and severity.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseSeverityCount {
    pub phase: Phase,
    pub severity: Severity,
    pub cases: i64,
}

/// Response times of one closed case, for the dashboard's charts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClosedCaseTimes {
    pub number: i64,
    pub reference: String,
    pub title: String,
    pub severity: Severity,
    /// When the case reached the post-incident phase.
    pub closed_at: DateTime<Utc>,
    pub seconds_to_contain: Option<i64>,
    pub seconds_to_recover: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OverdueCase {
    pub number: i64,
    pub reference: String,
    pub title: String,
    pub severity: Severity,
    pub phase: Phase,
    /// When the status update was due.
    pub due_at: DateTime<Utc>,
}

/// Body of `GET /api/v1/dashboard`: what a manager reviews across the cases they may read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Dashboard {
    pub open_cases: Vec<PhaseSeverityCount>,
    pub open_total: i64,
    pub overdue_updates: Vec<OverdueCase>,
    /// Closed cases, oldest first.
    pub closed_cases: Vec<ClosedCaseTimes>,
}

/// Body of `POST /api/v1/cases/{number}/report/send`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportSending {
    /// A message from the lead that opens the email.
    #[serde(default)]
    pub note: String,
}

/// Result of sending the report to the stakeholders who follow it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportSendResult {
    /// Stakeholders the email was queued for.
    pub recipients: i64,
}

/// Formats a duration for people: `3 d 4 h`, `2 h 35 min`, `42 s`.
pub fn format_duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (days, hours, minutes) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60);
    let text = if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else if minutes > 0 {
        format!("{minutes} min {} s", s % 60)
    } else {
        format!("{s} s")
    };
    format!("{sign}{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(42), "42 s");
        assert_eq!(format_duration(125), "2 min 5 s");
        assert_eq!(format_duration(2 * 3600 + 35 * 60), "2 h 35 min");
        assert_eq!(format_duration(3 * 86_400 + 4 * 3600), "3 d 4 h");
        assert_eq!(format_duration(-60), "-1 min 0 s");
    }
}
