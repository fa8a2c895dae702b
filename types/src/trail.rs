//! Bodies of the trail analysis routes: derived credentials and their re-analysis.

use serde::{Deserialize, Serialize};

use crate::{Credential, FindingCategory};

/// Result of confirming a credential: the credential, and what the re-analysis of the case's
/// stored trail events added for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialConfirmation {
    pub credential: Credential,
    /// Stored events that the credential made at or after the compromise time, now linked to it.
    pub events_added: i64,
    pub findings_added: i64,
    /// Credentials that these events created, proposed on the case for confirmation in turn.
    pub credentials_proposed: i64,
    /// Damaged parts of the kept trail files that were skipped, each with file and line.
    #[serde(default)]
    pub skipped: Vec<String>,
}

/// A rule that turns trail events into findings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FindingRule {
    pub id: i64,
    /// Unique kebab-case name, such as `access-key-creation`.
    pub name: String,
    pub category: FindingCategory,
    /// `high`, `medium` or `low`.
    pub severity: String,
    /// Cloud whose events the rule applies to: `any`, `aws` or `huawei`.
    pub provider: String,
    /// Event names with `*` standing for any run of characters, such as `Attach*Policy`.
    pub patterns: Vec<String>,
    pub enabled: bool,
    /// Whether the rule ships with Rekey. Built-in rules can be disabled but not changed.
    pub builtin: bool,
}

/// Body of `POST /api/v1/rules`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFindingRule {
    pub name: String,
    pub category: FindingCategory,
    pub severity: String,
    /// `any` when missing.
    #[serde(default)]
    pub provider: Option<String>,
    pub patterns: Vec<String>,
}
