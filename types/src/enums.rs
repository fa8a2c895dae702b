//! Closed sets of values. Each has a wire name (stored in the database and sent as JSON) and a
//! label for people.

use serde::{Deserialize, Serialize};

/// Defines an enum whose variants map one to one onto wire names and labels.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// Name used in JSON and in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            /// Name shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            /// Parses a wire name; `None` for any other string.
            pub fn parse(value: &str) -> Option<Self> {
                match value { $($wire => Some($name::$variant),)+ _ => None }
            }

            /// Wire names joined for error messages: `a, b or c`.
            pub fn expected() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match names.split_last() {
                    Some((last, [])) => last.to_string(),
                    Some((last, rest)) => format!("{} or {}", rest.join(", "), last),
                    None => String::new(),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Case priority: P1 is the most urgent.
    Severity {
        P1 = "P1", "P1 critical";
        P2 = "P2", "P2 high";
        P3 = "P3", "P3 medium";
        P4 = "P4", "P4 low";
    }
);

wire_enum!(
    /// Response phase of a case, in the order a case moves through them.
    Phase {
        Identification = "identification", "Identification";
        Containment = "containment", "Containment";
        Eradication = "eradication", "Eradication";
        Recovery = "recovery", "Recovery";
        PostIncident = "post_incident", "Post-incident";
        Closed = "closed", "Closed";
    }
);

impl Phase {
    /// Phase after this one; `None` for a closed case.
    pub fn next(self) -> Option<Phase> {
        let index = Phase::ALL.iter().position(|p| *p == self)?;
        Phase::ALL.get(index + 1).copied()
    }
}

wire_enum!(
    /// Source through which the incident was detected.
    DetectionSource {
        CloudAlert = "cloud_alert", "Cloud-service alert or metric";
        ExternalMonitoring = "external_monitoring", "External monitoring";
        ThirdPartyNotice = "third_party_notice", "Contractor or third-party notice";
        SecurityInspection = "security_inspection", "Internal or external security inspection";
        InternalSystemMessage = "internal_system_message", "Internal system message";
        AnonymousReport = "anonymous_report", "Anonymous report";
        Other = "other", "Other";
    }
);

wire_enum!(
    CredentialKind {
        AccessKey = "access_key", "Access key";
        IamUserPassword = "iam_user_password", "IAM user password";
        TemporaryRoleCredentials = "temporary_role_credentials", "Temporary role credentials";
        ApiToken = "api_token", "API key or token";
        Other = "other", "Other";
    }
);

impl Default for CredentialKind {
    fn default() -> Self {
        CredentialKind::AccessKey
    }
}

wire_enum!(
    /// Kind of identity a credential belongs to.
    PrincipalType {
        User = "user", "IAM user";
        Role = "role", "Role";
        Root = "root", "Root account";
        ServiceAccount = "service_account", "Service account";
        Other = "other", "Other";
    }
);

wire_enum!(
    /// Lifecycle of a leaked credential.
    CredentialStatus {
        Suspected = "suspected", "Suspected";
        Confirmed = "confirmed", "Confirmed";
        Disabled = "disabled", "Disabled";
        Verified = "verified", "Verified";
        Rotated = "rotated", "Rotated";
        FalsePositive = "false_positive", "False positive";
    }
);

wire_enum!(
    StakeholderRole {
        Legal = "legal", "Legal";
        Communications = "communications", "Communications";
        Technical = "technical", "Technical team";
        Developers = "developers", "Developers";
        Management = "management", "Management";
        ResourceOwner = "resource_owner", "Resource owner";
        LawEnforcement = "law_enforcement", "Law enforcement";
        Regulator = "regulator", "Regulator";
        ExternalParty = "external_party", "External party";
        Other = "other", "Other";
    }
);

wire_enum!(
    /// Role of a user account across all cases.
    UserRole {
        Admin = "admin", "Administrator";
        IncidentLead = "incident_lead", "Incident lead";
        Analyst = "analyst", "Analyst";
        Manager = "manager", "Manager";
        Stakeholder = "stakeholder", "Stakeholder";
    }
);

impl UserRole {
    /// Tells whether users of this role may open new cases.
    pub fn can_create_cases(self) -> bool {
        matches!(self, UserRole::Admin | UserRole::IncidentLead | UserRole::Analyst)
    }
}

wire_enum!(
    /// Role of a member within one case.
    CaseRole {
        Lead = "lead", "Lead";
        Analyst = "analyst", "Analyst";
        Viewer = "viewer", "Viewer (read-only)";
    }
);

impl CaseRole {
    /// Tells whether this member may change the case.
    pub fn can_write(self) -> bool {
        matches!(self, CaseRole::Lead | CaseRole::Analyst)
    }
}

wire_enum!(
    /// Permission of an API token: `read` allows GET requests, `write` every change, and
    /// `import` only trail uploads.
    TokenScope {
        Read = "read", "Read";
        Write = "write", "Write";
        Import = "import", "Import trails";
    }
);

wire_enum!(
    ImportStatus {
        Completed = "completed", "Completed";
        Failed = "failed", "Failed, nothing kept";
    }
);

wire_enum!(
    /// Kind of action a flagged call performed.
    FindingCategory {
        DataAccess = "data_access", "Data access";
        ResourceCreation = "resource_creation", "Resource creation";
        PermissionChange = "permission_change", "Permission or identity change";
        CredentialCreation = "credential_creation", "Credential creation";
        ResourceDeletion = "resource_deletion", "Resource deletion";
        ResourceModification = "resource_modification", "Resource modification";
        DefenceEvasion = "defence_evasion", "Defence evasion";
        Reconnaissance = "reconnaissance", "Reconnaissance";
    }
);

wire_enum!(
    DeliveryStatus {
        Queued = "queued", "Queued";
        Sent = "sent", "Sent";
        Failed = "failed", "Failed";
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_next_follows_order() {
        assert_eq!(Phase::Identification.next(), Some(Phase::Containment));
        assert_eq!(Phase::PostIncident.next(), Some(Phase::Closed));
        assert_eq!(Phase::Closed.next(), None);
    }

    #[test]
    fn wire_names_round_trip() {
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(*phase));
        }
    }

    #[test]
    fn expected_lists_names() {
        assert_eq!(Severity::expected(), "P1, P2, P3 or P4");
    }
}
