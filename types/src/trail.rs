//! Bodies of the trail analysis routes: derived credentials and their re-analysis.

use serde::{Deserialize, Serialize};

use crate::Credential;

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
}
