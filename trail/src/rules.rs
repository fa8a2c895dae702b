//! Built-in rules that turn sensitive API calls into eradication findings.

use std::borrow::Cow;
use std::fmt;

use crate::event::Event;

/// Kind of change or access that a finding reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingCategory {
    DataAccess,
    ResourceCreation,
    PermissionChange,
    CredentialCreation,
    ResourceDeletion,
    ResourceModification,
    DefenceEvasion,
    /// Probing of permissions and resources, such as calls rejected with `AccessDenied`.
    Reconnaissance,
}

impl FindingCategory {
    pub const ALL: [FindingCategory; 8] = [
        FindingCategory::DataAccess,
        FindingCategory::ResourceCreation,
        FindingCategory::PermissionChange,
        FindingCategory::CredentialCreation,
        FindingCategory::ResourceDeletion,
        FindingCategory::ResourceModification,
        FindingCategory::DefenceEvasion,
        FindingCategory::Reconnaissance,
    ];

    /// Parses the name that [`FindingCategory::as_str`] returns.
    pub fn parse(name: &str) -> Option<FindingCategory> {
        FindingCategory::ALL
            .into_iter()
            .find(|category| category.as_str() == name)
    }

    /// Returns the severity of a built-in rule of this category: `high`, `medium` or `low`.
    pub fn default_severity(self) -> &'static str {
        match self {
            FindingCategory::DataAccess
            | FindingCategory::PermissionChange
            | FindingCategory::CredentialCreation
            | FindingCategory::DefenceEvasion => "high",
            FindingCategory::ResourceCreation
            | FindingCategory::ResourceDeletion
            | FindingCategory::ResourceModification => "medium",
            FindingCategory::Reconnaissance => "low",
        }
    }

    /// Returns the snake_case name, e.g. `credential_creation`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCategory::DataAccess => "data_access",
            FindingCategory::ResourceCreation => "resource_creation",
            FindingCategory::PermissionChange => "permission_change",
            FindingCategory::CredentialCreation => "credential_creation",
            FindingCategory::ResourceDeletion => "resource_deletion",
            FindingCategory::ResourceModification => "resource_modification",
            FindingCategory::DefenceEvasion => "defence_evasion",
            FindingCategory::Reconnaissance => "reconnaissance",
        }
    }
}

impl fmt::Display for FindingCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rule that flags calls whose event name matches one of its patterns.
#[derive(Debug)]
pub struct Rule {
    /// Short kebab-case name that says why a call was flagged, e.g. `access-key-creation`.
    pub name: &'static str,
    pub category: FindingCategory,
    /// Event names, where `*` matches any run of characters, including none.
    /// A pattern that starts with `*` never matches a read-only call (see [`Rule::matches`]).
    pub patterns: &'static [&'static str],
}

impl Rule {
    /// Checks whether one of the rule's patterns matches `event_name`, case-sensitively except
    /// for a lowercase first letter, which is compared as uppercase. CTS trace names such as
    /// `createServer` thereby match the same patterns as CloudTrail's `CreateServer`.
    ///
    /// A pattern that starts with `*`, such as `*Image*`, does not match names with a read-only
    /// prefix (Describe, Get, List, Head, Lookup, Search, BatchGet, Check, Simulate),
    /// so that it flags `CreateImage` but not `DescribeImages`.
    pub fn matches(&self, event_name: &str) -> bool {
        let event_name = normalize_event_name(event_name);
        self.patterns
            .iter()
            .any(|pattern| pattern_matches(pattern, &event_name))
    }
}

/// Returns the event name with a lowercase first letter made uppercase, as [`Rule::matches`]
/// compares it.
pub(crate) fn normalize_event_name(event_name: &str) -> Cow<'_, str> {
    match event_name.as_bytes().first() {
        Some(first) if first.is_ascii_lowercase() => Cow::Owned(format!(
            "{}{}",
            first.to_ascii_uppercase() as char,
            &event_name[1..]
        )),
        _ => Cow::Borrowed(event_name),
    }
}

/// Matches one pattern against a name from [`normalize_event_name`], as [`Rule::matches`] does.
pub(crate) fn pattern_matches(pattern: &str, normalized_name: &str) -> bool {
    !(pattern.starts_with('*') && is_read_only(normalized_name))
        && wildcard_match(pattern, normalized_name)
}

const READ_ONLY_PREFIXES: &[&str] = &[
    "Describe", "Get", "List", "Head", "Lookup", "Search", "BatchGet", "Check", "Simulate",
];

fn is_read_only(event_name: &str) -> bool {
    READ_ONLY_PREFIXES
        .iter()
        .any(|prefix| event_name.starts_with(prefix))
}

/// Built-in rules, most specific first, because [`classify`] returns the first match.
/// For example `access-key-creation` precedes the generic `resource-creation` (`Create*`),
/// and `logging-tampering` precedes `resource-deletion` (`Delete*`).
pub static RULES: &[Rule] = &[
    // Defence evasion: calls that blind the audit trail or the detectors.
    Rule {
        name: "logging-tampering",
        category: FindingCategory::DefenceEvasion,
        patterns: &[
            "StopLogging",
            "DeleteTrail",
            "UpdateTrail",
            "PutEventSelectors",
            "PutInsightSelectors",
            "DeleteEventDataStore",
            "StopEventDataStoreIngestion",
            "DeleteFlowLogs",
            "DeleteLogGroup",
            "DeleteLogStream",
            "PutRetentionPolicy",
            "DeleteResolverQueryLogConfig",
            "DisassociateResolverQueryLogConfig",
            "StopConfigurationRecorder",
            "DeleteConfigurationRecorder",
            "DeleteDeliveryChannel",
        ],
    },
    Rule {
        name: "detection-tampering",
        category: FindingCategory::DefenceEvasion,
        patterns: &[
            "DisableSecurityHub*",
            "BatchDisableStandards",
            "DeleteDetector",
            "UpdateDetector",
            "DeleteMembers",
            "DisassociateMembers",
            "DisassociateFromMasterAccount",
            "DisassociateFromAdministratorAccount",
            "StopMonitoringMembers",
            // GuardDuty filters can auto-archive findings, and IP sets can mark attacker
            // addresses as trusted.
            "CreateFilter",
            "UpdateFilter",
            "CreateIPSet",
            "UpdateIPSet",
            "DeleteAnalyzer",
            "DeleteConfigRule",
            "DeleteAlarms",
            "DisableAlarmActions",
            "DisableRule",
            "LeaveOrganization",
        ],
    },
    // Credential creation: calls that give the caller or a new identity working credentials.
    Rule {
        name: "access-key-creation",
        category: FindingCategory::CredentialCreation,
        patterns: &["CreateAccessKey"],
    },
    Rule {
        name: "console-password-change",
        category: FindingCategory::CredentialCreation,
        patterns: &["CreateLoginProfile", "UpdateLoginProfile", "ChangePassword"],
    },
    Rule {
        name: "service-credential-creation",
        category: FindingCategory::CredentialCreation,
        patterns: &[
            "CreateServiceSpecificCredential",
            "ResetServiceSpecificCredential",
            "UploadSSHPublicKey",
            "UploadSigningCertificate",
            "SendSSHPublicKey",
            "SendSerialConsoleSSHPublicKey",
            "CreateKeyPair",
            "ImportKeyPair",
        ],
    },
    Rule {
        name: "mfa-device-registration",
        category: FindingCategory::CredentialCreation,
        patterns: &["CreateVirtualMFADevice", "EnableMFADevice"],
    },
    Rule {
        name: "temporary-credentials",
        category: FindingCategory::CredentialCreation,
        patterns: &[
            "GetSessionToken",
            "GetFederationToken",
            "AssumeRole*",
            "AssumeRoot",
            "GetRoleCredentials",
        ],
    },
    Rule {
        name: "user-creation",
        category: FindingCategory::CredentialCreation,
        patterns: &["CreateUser"],
    },
    // Permission change: calls that grant, revoke or share access.
    Rule {
        name: "policy-attachment",
        category: FindingCategory::PermissionChange,
        patterns: &["Attach*Policy"],
    },
    Rule {
        name: "policy-detachment",
        category: FindingCategory::PermissionChange,
        patterns: &["Detach*Policy"],
    },
    Rule {
        name: "trust-policy-change",
        category: FindingCategory::PermissionChange,
        patterns: &["UpdateAssumeRolePolicy"],
    },
    Rule {
        name: "resource-sharing",
        category: FindingCategory::PermissionChange,
        patterns: &[
            "ModifySnapshotAttribute",
            "ModifyImageAttribute",
            "ModifyDBSnapshotAttribute",
            "ModifyDBClusterSnapshotAttribute",
            "PutBucketAcl",
            "PutObjectAcl",
            "Delete*PublicAccessBlock",
            "AuthorizeSecurityGroupIngress",
            // Lambda writes a version suffix, e.g. AddPermission20150331v2.
            "AddPermission*",
            "CreateGrant",
        ],
    },
    // These names end in "Policy" but set scaling, lifecycle or retention, not access.
    Rule {
        name: "lifecycle-or-scaling-policy",
        category: FindingCategory::ResourceModification,
        patterns: &[
            "Put*ScalingPolicy",
            "Delete*ScalingPolicy",
            "Put*LifecyclePolicy",
            "Delete*LifecyclePolicy",
            "DeleteRetentionPolicy",
        ],
    },
    Rule {
        name: "policy-change",
        category: FindingCategory::PermissionChange,
        patterns: &[
            "Put*Policy",
            "Delete*Policy",
            "Put*PermissionsBoundary",
            "Delete*PermissionsBoundary",
            "SetDefaultPolicyVersion",
            "RemovePermission*",
        ],
    },
    Rule {
        name: "role-creation",
        category: FindingCategory::PermissionChange,
        patterns: &["CreateRole", "AddRoleToInstanceProfile"],
    },
    Rule {
        name: "policy-creation",
        category: FindingCategory::PermissionChange,
        patterns: &["CreatePolicy*"],
    },
    Rule {
        name: "group-membership-change",
        category: FindingCategory::PermissionChange,
        patterns: &["AddUserToGroup", "RemoveUserFromGroup"],
    },
    Rule {
        name: "identity-provider-change",
        category: FindingCategory::PermissionChange,
        patterns: &["*Provider", "*ProviderThumbprint"],
    },
    // Data access: reads of secrets or data.
    Rule {
        name: "secret-read",
        category: FindingCategory::DataAccess,
        patterns: &["GetSecretValue", "BatchGetSecretValue"],
    },
    Rule {
        name: "parameter-read",
        category: FindingCategory::DataAccess,
        patterns: &["GetParameter*"],
    },
    Rule {
        name: "instance-password-read",
        category: FindingCategory::DataAccess,
        patterns: &["GetPasswordData"],
    },
    Rule {
        name: "instance-console-read",
        category: FindingCategory::DataAccess,
        patterns: &["GetConsoleOutput", "GetConsoleScreenshot"],
    },
    Rule {
        name: "object-read",
        category: FindingCategory::DataAccess,
        patterns: &["GetObject", "SelectObjectContent"],
    },
    Rule {
        name: "decryption",
        category: FindingCategory::DataAccess,
        patterns: &["Decrypt"],
    },
    Rule {
        name: "database-read",
        category: FindingCategory::DataAccess,
        patterns: &[
            "GetItem",
            "BatchGetItem",
            "Scan",
            "Query",
            "DownloadDBLogFilePortion",
        ],
    },
    // Reconnaissance: the calls a holder of a stolen key makes first, to learn whose key it is
    // and what it may do. Other read-only calls stay trail events without findings.
    Rule {
        name: "permission-discovery",
        category: FindingCategory::Reconnaissance,
        patterns: &[
            "GetCallerIdentity",
            "GetAccountAuthorizationDetails",
            "GetAccountSummary",
            "ListAttachedUserPolicies",
            "ListUserPolicies",
            "ListAttachedRolePolicies",
            "ListRolePolicies",
            "SimulatePrincipalPolicy",
        ],
    },
    // Code execution on existing resources.
    Rule {
        name: "instance-command",
        category: FindingCategory::ResourceModification,
        patterns: &["SendCommand", "StartSession"],
    },
    Rule {
        name: "function-code-change",
        category: FindingCategory::ResourceModification,
        patterns: &["UpdateFunctionCode*", "UpdateFunctionConfiguration*"],
    },
    // Generic rules. Tagging comes first because EC2 names it CreateTags and DeleteTags.
    Rule {
        name: "tag-change",
        category: FindingCategory::ResourceModification,
        patterns: &[
            "Tag*",
            "Untag*",
            "CreateTags",
            "DeleteTags",
            "AddTags*",
            "RemoveTags*",
            "Put*Tagging",
            "Delete*Tagging",
        ],
    },
    Rule {
        name: "resource-deletion",
        category: FindingCategory::ResourceDeletion,
        patterns: &[
            "Delete*",
            "BatchDelete*",
            "Terminate*",
            "Deregister*",
            "ScheduleKeyDeletion",
        ],
    },
    Rule {
        name: "instance-launch",
        category: FindingCategory::ResourceCreation,
        patterns: &["RunInstances", "RunTask"],
    },
    Rule {
        name: "image-creation-or-copy",
        category: FindingCategory::ResourceCreation,
        patterns: &["*Image*"],
    },
    Rule {
        name: "resource-creation",
        category: FindingCategory::ResourceCreation,
        patterns: &[
            "Create*",
            "Copy*",
            "Import*",
            "Restore*",
            "Register*",
            "Allocate*",
        ],
    },
    Rule {
        name: "token-issuance",
        category: FindingCategory::ResourceModification,
        patterns: &["Get*Token"],
    },
    Rule {
        name: "resource-modification",
        category: FindingCategory::ResourceModification,
        patterns: &[
            "Update*",
            "Modify*",
            "Put*",
            "Attach*",
            "Detach*",
            "Associate*",
            "Disassociate*",
            "Replace*",
            "Revoke*",
            "Enable*",
            "Disable*",
            "Set*",
            "Add*",
            "Remove*",
            "Reset*",
            "Start*",
            "Stop*",
            "Reboot*",
        ],
    },
];

/// Rule for a failed call that no rule in [`RULES`] covers. A caller that tries read-only calls
/// it may not make, such as `ListUsers` rejected with `AccessDenied`, is probing its permissions.
pub static FAILED_CALL_RULE: Rule = Rule {
    name: "failed-call",
    category: FindingCategory::Reconnaissance,
    patterns: &["*"],
};

/// Returns the first rule in [`RULES`] that matches the event name, or `None` for calls that
/// no rule covers, such as the read-only `DescribeInstances` or `ListBuckets`.
pub fn classify(event_name: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.matches(event_name))
}

/// Returns the rule that makes `event` a finding: the one [`classify`] returns for its name, else
/// [`FAILED_CALL_RULE`] when the call failed. A failed call is an attempt, and it is a finding
/// whichever rule applies, because it shows what the attacker tried.
pub fn classify_event(event: &Event) -> Option<&'static Rule> {
    classify(&event.event_name).or_else(|| event.error_code.as_ref().map(|_| &FAILED_CALL_RULE))
}

/// Matches `text` against a pattern where `*` stands for any run of characters.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern = pattern.as_bytes();
    let text = text.as_bytes();
    let (mut p, mut t) = (0, 0);
    // Position of the last `*` in the pattern and the text position it was tried at.
    let mut backtrack: Option<(usize, usize)> = None;

    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            backtrack = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, star_t)) = backtrack {
            // Let the last `*` absorb one more character and retry from there.
            p = star + 1;
            t = star_t + 1;
            backtrack = Some((star, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&byte| byte == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        use FindingCategory::*;
        let cases: &[(&str, Option<(&str, FindingCategory)>)] = &[
            ("CreateUser", Some(("user-creation", CredentialCreation))),
            (
                "CreateAccessKey",
                Some(("access-key-creation", CredentialCreation)),
            ),
            (
                "AttachUserPolicy",
                Some(("policy-attachment", PermissionChange)),
            ),
            (
                "AttachRolePolicy",
                Some(("policy-attachment", PermissionChange)),
            ),
            (
                "CreateLoginProfile",
                Some(("console-password-change", CredentialCreation)),
            ),
            (
                "UpdateLoginProfile",
                Some(("console-password-change", CredentialCreation)),
            ),
            ("DeleteTrail", Some(("logging-tampering", DefenceEvasion))),
            ("StopLogging", Some(("logging-tampering", DefenceEvasion))),
            (
                "PutEventSelectors",
                Some(("logging-tampering", DefenceEvasion)),
            ),
            (
                "DeleteFlowLogs",
                Some(("logging-tampering", DefenceEvasion)),
            ),
            (
                "DisableSecurityHub",
                Some(("detection-tampering", DefenceEvasion)),
            ),
            (
                "DeleteDetector",
                Some(("detection-tampering", DefenceEvasion)),
            ),
            ("GetSecretValue", Some(("secret-read", DataAccess))),
            ("GetParameters", Some(("parameter-read", DataAccess))),
            (
                "GetPasswordData",
                Some(("instance-password-read", DataAccess)),
            ),
            ("Decrypt", Some(("decryption", DataAccess))),
            ("RunInstances", Some(("instance-launch", ResourceCreation))),
            (
                "CreateImage",
                Some(("image-creation-or-copy", ResourceCreation)),
            ),
            (
                "CopyImage",
                Some(("image-creation-or-copy", ResourceCreation)),
            ),
            (
                "CreateBucket",
                Some(("resource-creation", ResourceCreation)),
            ),
            ("CreateRole", Some(("role-creation", PermissionChange))),
            (
                "CreatePolicyVersion",
                Some(("policy-creation", PermissionChange)),
            ),
            ("PutUserPolicy", Some(("policy-change", PermissionChange))),
            ("PutBucketPolicy", Some(("policy-change", PermissionChange))),
            (
                "PutRetentionPolicy",
                Some(("logging-tampering", DefenceEvasion)),
            ),
            (
                "PutScalingPolicy",
                Some(("lifecycle-or-scaling-policy", ResourceModification)),
            ),
            (
                "DetachRolePolicy",
                Some(("policy-detachment", PermissionChange)),
            ),
            (
                "AddUserToGroup",
                Some(("group-membership-change", PermissionChange)),
            ),
            (
                "UpdateAssumeRolePolicy",
                Some(("trust-policy-change", PermissionChange)),
            ),
            (
                "CreateOpenIDConnectProvider",
                Some(("identity-provider-change", PermissionChange)),
            ),
            (
                "UpdateSAMLProvider",
                Some(("identity-provider-change", PermissionChange)),
            ),
            (
                "ModifyImageAttribute",
                Some(("resource-sharing", PermissionChange)),
            ),
            (
                "ModifySnapshotAttribute",
                Some(("resource-sharing", PermissionChange)),
            ),
            (
                "AddPermission20150331v2",
                Some(("resource-sharing", PermissionChange)),
            ),
            (
                "AssumeRole",
                Some(("temporary-credentials", CredentialCreation)),
            ),
            (
                "AssumeRoleWithWebIdentity",
                Some(("temporary-credentials", CredentialCreation)),
            ),
            (
                "GetFederationToken",
                Some(("temporary-credentials", CredentialCreation)),
            ),
            (
                "GetSessionToken",
                Some(("temporary-credentials", CredentialCreation)),
            ),
            (
                "GetAuthorizationToken",
                Some(("token-issuance", ResourceModification)),
            ),
            (
                "SendCommand",
                Some(("instance-command", ResourceModification)),
            ),
            (
                "UpdateFunctionCode20150331v2",
                Some(("function-code-change", ResourceModification)),
            ),
            ("TagResource", Some(("tag-change", ResourceModification))),
            ("UntagResource", Some(("tag-change", ResourceModification))),
            ("CreateTags", Some(("tag-change", ResourceModification))),
            (
                "DeleteBucket",
                Some(("resource-deletion", ResourceDeletion)),
            ),
            (
                "DeregisterImage",
                Some(("resource-deletion", ResourceDeletion)),
            ),
            (
                "TerminateInstances",
                Some(("resource-deletion", ResourceDeletion)),
            ),
            (
                "ModifyInstanceAttribute",
                Some(("resource-modification", ResourceModification)),
            ),
            (
                "PutObject",
                Some(("resource-modification", ResourceModification)),
            ),
            (
                "PutBucketTagging",
                Some(("tag-change", ResourceModification)),
            ),
            (
                "RemovePermission20150331v2",
                Some(("policy-change", PermissionChange)),
            ),
            (
                "RemoveUserFromGroup",
                Some(("group-membership-change", PermissionChange)),
            ),
            (
                "DetachInternetGateway",
                Some(("resource-modification", ResourceModification)),
            ),
            (
                "StopInstances",
                Some(("resource-modification", ResourceModification)),
            ),
            (
                "CopySnapshot",
                Some(("resource-creation", ResourceCreation)),
            ),
            (
                "UpdateAccessKey",
                Some(("resource-modification", ResourceModification)),
            ),
            ("DescribeInstances", None),
            ("DescribeImages", None),
            ("ListBuckets", None),
            (
                "GetCallerIdentity",
                Some(("permission-discovery", Reconnaissance)),
            ),
            ("GetSAMLProvider", None),
            ("ListOpenIDConnectProviders", None),
            ("ConsoleLogin", None),
            ("", None),
        ];
        for &(event_name, expected) in cases {
            let actual = classify(event_name).map(|rule| (rule.name, rule.category));
            assert_eq!(actual, expected, "{event_name}");
        }
    }

    fn event_named(name: &str, error_code: Option<&str>) -> Event {
        Event {
            event_id: "e".to_owned(),
            event_time: chrono::DateTime::UNIX_EPOCH,
            event_name: name.to_owned(),
            event_source: "iam.amazonaws.com".to_owned(),
            region: None,
            source_ip: None,
            user_agent: None,
            access_key_id: None,
            principal_name: None,
            principal_arn: None,
            account_id: None,
            error_code: error_code.map(str::to_owned),
            resource: None,
            raw: String::new(),
        }
    }

    #[test]
    fn failed_calls_classified() {
        let cases = [
            ("ListUsers", None, None),
            ("ListUsers", Some("AccessDenied"), Some("failed-call")),
            ("CreateUser", None, Some("user-creation")),
            ("CreateUser", Some("AccessDenied"), Some("user-creation")),
        ];
        for (name, error_code, expected) in cases {
            let event = event_named(name, error_code);
            let rule = classify_event(&event).map(|rule| rule.name);
            assert_eq!(rule, expected, "{name} {error_code:?}");
        }
        let rule = classify_event(&event_named("ListRoles", Some("AccessDenied")));
        assert_eq!(rule.unwrap().category, FindingCategory::Reconnaissance);
    }

    #[test]
    fn cts_camel_case_names_classified() {
        let cases = [
            ("createServer", Some("resource-creation")),
            ("deleteVolume", Some("resource-deletion")),
            ("listServers", None),
            ("login", None),
        ];
        for (name, expected) in cases {
            assert_eq!(classify(name).map(|rule| rule.name), expected, "{name}");
        }
    }

    #[test]
    fn wildcard_match_table() {
        let cases = [
            ("Attach*Policy", "AttachUserPolicy", true),
            ("Attach*Policy", "AttachPolicy", true),
            ("Attach*Policy", "AttachUserPolicyX", false),
            ("*Image*", "CreateImage", true),
            ("*Image*", "Image", true),
            ("*Image*", "CreateImag", false),
            ("*a*b", "xaxbxab", true),
            ("*a*b", "xaxbxa", false),
            ("Create*", "Create", true),
            ("Create*", "create", false),
            ("Decrypt", "Decrypt", true),
            ("Decrypt", "Decrypted", false),
            ("**", "", true),
            ("", "", true),
            ("", "x", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                wildcard_match(pattern, text),
                expected,
                "{pattern} vs {text}"
            );
        }
    }

    #[test]
    fn rule_names_are_unique_kebab_case() {
        let mut names: Vec<&str> = RULES.iter().map(|rule| rule.name).collect();
        for name in &names {
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{name}"
            );
        }
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "duplicate rule names");
    }

    #[test]
    fn category_names() {
        let names: Vec<&str> = FindingCategory::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            names,
            [
                "data_access",
                "resource_creation",
                "permission_change",
                "credential_creation",
                "resource_deletion",
                "resource_modification",
                "defence_evasion",
                "reconnaissance"
            ]
        );
    }
}
