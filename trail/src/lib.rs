//! Reading and classification of AWS CloudTrail and Huawei Cloud Trace Service (CTS) audit logs
//! for Rekey cases.
//!
//! [`read_events`] streams the events of one log file, plain or gzip-compressed: the
//! `{"Records":[...]}` form that CloudTrail delivers to S3, `aws cloudtrail lookup-events`
//! output, CTS traces, JSON arrays of events, or one event per line. See [`Form`].
//! [`CredentialMatcher`] selects the events that a case's leaked credentials made after the
//! compromise time, and [`classify`] maps an event name to the [`Rule`] that makes it an
//! eradication finding.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rekey_trail::{classify, read_events, CaseCredential, CredentialMatcher};
//!
//! let file = r#"{"Records":[{"eventID":"1","eventTime":"2023-07-10T12:30:00Z",
//!     "eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com",
//!     "userIdentity":{"accessKeyId":"AKIAEXAMPLE","userName":"alice"},
//!     "requestParameters":{"userName":"backdoor"}}]}"#;
//! let credential = CaseCredential {
//!     id: 7,
//!     access_key_id: Some("AKIAEXAMPLE".to_owned()),
//!     principal_name: None,
//! };
//! let since = Utc.with_ymd_and_hms(2023, 7, 10, 12, 0, 0).unwrap();
//! let matcher = CredentialMatcher::new(&[credential], since);
//!
//! let mut findings = Vec::new();
//! read_events("example.json", file.as_bytes(), |event| {
//!     if let (Some(credential_id), Some(rule)) =
//!         (matcher.credential_for(&event), classify(&event.event_name))
//!     {
//!         findings.push((credential_id, rule.name, event.resource));
//!     }
//!     Ok::<(), std::convert::Infallible>(())
//! })
//! .unwrap();
//! assert_eq!(findings, [(7, "access-key-creation", Some("backdoor".to_owned()))]);
//! ```

mod affected;
mod archive;
mod cts;
mod derive;
mod event;
#[doc(hidden)]
pub mod fuzzing;
mod matcher;
mod needles;
mod read;
mod resource;
mod rules;
mod ruleset;
mod secret;

pub use affected::{affected_resources, MAX_AFFECTED_RESOURCES};
pub use archive::{is_skipped, is_zip, read_zip, read_zip_with, trail_files_in};
pub use derive::{derived_credentials, DerivedCredential, DerivedKind, DerivedPrincipal};
pub use event::Event;
pub use matcher::{CaseCredential, CredentialMatcher};
pub use needles::Needles;
pub use read::{
    read_events, read_events_with, FileSummary, Form, ReadError, ReadFailure, ReadOptions,
    DEFAULT_MAX_DECOMPRESSED_BYTES,
};
pub use rules::{classify, classify_event, FindingCategory, Rule, FAILED_CALL_RULE, RULES};
pub use ruleset::{OwnedRule, Provider, RuleSet};
pub use secret::{redact_secret_fields, REDACTED};
