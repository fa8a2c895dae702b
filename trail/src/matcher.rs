//! Selection of the events that a case's leaked credentials made.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::event::Event;
use crate::needles::Needles;

/// Credential of a case, identified by an access key id or, without one, by principal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCredential {
    pub id: i64,
    pub access_key_id: Option<String>,
    pub principal_name: Option<String>,
}

/// Decides which events belong to a case: those made with one of the case's credentials at or
/// after the compromise time.
#[derive(Debug, Clone)]
pub struct CredentialMatcher {
    by_access_key_id: HashMap<String, i64>,
    by_principal_name: HashMap<String, i64>,
    since: DateTime<Utc>,
}

impl CredentialMatcher {
    /// Builds a matcher for `credentials`, counting events at or after `since`.
    ///
    /// Surrounding whitespace is trimmed, and an empty key id or principal name counts as absent.
    /// A credential with neither matches nothing. When two credentials share a key id or
    /// principal name, the first in the list wins.
    pub fn new(credentials: &[CaseCredential], since: DateTime<Utc>) -> Self {
        let mut by_access_key_id = HashMap::new();
        let mut by_principal_name = HashMap::new();
        for credential in credentials {
            if let Some(key_id) = trimmed(&credential.access_key_id) {
                by_access_key_id
                    .entry(key_id.to_owned())
                    .or_insert(credential.id);
            } else if let Some(name) = trimmed(&credential.principal_name) {
                by_principal_name
                    .entry(name.to_owned())
                    .or_insert(credential.id);
            }
        }
        CredentialMatcher {
            by_access_key_id,
            by_principal_name,
            since,
        }
    }

    /// Returns the id of the credential that made the event, or `None`.
    ///
    /// A credential with an access key id matches events with exactly that key id and ignores
    /// the principal name. A credential without a key id matches [`Event::principal_name`]
    /// exactly, case-sensitively, whatever key the event used. The key id match wins if both
    /// kinds match. Events with `event_time < since` never match.
    ///
    /// NOTE: temporary keys (ASIA...) that a leaked key obtains through `GetSessionToken` or
    /// `AssumeRole` are different key ids, so their events match only through a credential
    /// added for them.
    pub fn credential_for(&self, event: &Event) -> Option<i64> {
        if event.event_time < self.since {
            return None;
        }
        let by_key = event
            .access_key_id
            .as_deref()
            .and_then(|key_id| self.by_access_key_id.get(key_id));
        let by_name = || {
            event
                .principal_name
                .as_deref()
                .and_then(|name| self.by_principal_name.get(name))
        };
        by_key.or_else(by_name).copied()
    }

    /// Returns the texts that every event this matcher accepts contains: the key ids and
    /// principal names it matches. `None` when no byte search can stand in for parsing; see
    /// [`Needles::new`].
    pub fn needles(&self) -> Option<Needles> {
        Needles::new(self.by_access_key_id.keys().chain(self.by_principal_name.keys()))
    }

    /// Returns the compromise time given to [`CredentialMatcher::new`].
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(time)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn event(time: &str, access_key_id: Option<&str>, principal_name: Option<&str>) -> Event {
        Event {
            event_id: "e".to_owned(),
            event_time: at(time),
            event_name: "ListBuckets".to_owned(),
            event_source: "s3.amazonaws.com".to_owned(),
            region: None,
            source_ip: None,
            user_agent: None,
            access_key_id: access_key_id.map(str::to_owned),
            principal_name: principal_name.map(str::to_owned),
            principal_arn: None,
            account_id: None,
            error_code: None,
            resource: None,
            raw: "{}".to_owned(),
        }
    }

    fn credential(id: i64, key: Option<&str>, name: Option<&str>) -> CaseCredential {
        CaseCredential {
            id,
            access_key_id: key.map(str::to_owned),
            principal_name: name.map(str::to_owned),
        }
    }

    fn matcher() -> CredentialMatcher {
        CredentialMatcher::new(
            &[
                credential(1, Some("AKIALEAKED1"), Some("alice")),
                credential(2, None, Some("deploy-bot")),
                credential(3, Some(" AKIALEAKED3 "), None),
                credential(4, Some(""), None),
                credential(5, None, None),
                credential(6, Some("AKIALEAKED1"), None),
            ],
            at("2023-07-10T12:20:00Z"),
        )
    }

    #[test]
    fn credential_match_table() {
        let cases = [
            (
                "key at since",
                "2023-07-10T12:20:00Z",
                Some("AKIALEAKED1"),
                Some("alice"),
                Some(1),
            ),
            (
                "key after since",
                "2023-07-11T00:00:00Z",
                Some("AKIALEAKED1"),
                None,
                Some(1),
            ),
            (
                "key before since",
                "2023-07-10T12:19:59Z",
                Some("AKIALEAKED1"),
                Some("alice"),
                None,
            ),
            (
                "other key, same user",
                "2023-07-10T12:30:00Z",
                Some("AKIAOTHER"),
                Some("alice"),
                None,
            ),
            (
                "key in other case",
                "2023-07-10T12:30:00Z",
                Some("AKIAOTHER"),
                Some("bob"),
                None,
            ),
            (
                "key trimmed",
                "2023-07-10T12:30:00Z",
                Some("AKIALEAKED3"),
                None,
                Some(3),
            ),
            (
                "key is case-sensitive",
                "2023-07-10T12:30:00Z",
                Some("akialeaked1"),
                None,
                None,
            ),
            (
                "principal, any key",
                "2023-07-10T12:30:00Z",
                Some("ASIATEMP"),
                Some("deploy-bot"),
                Some(2),
            ),
            (
                "principal, no key",
                "2023-07-10T12:30:00Z",
                None,
                Some("deploy-bot"),
                Some(2),
            ),
            (
                "principal is case-sensitive",
                "2023-07-10T12:30:00Z",
                None,
                Some("Deploy-Bot"),
                None,
            ),
            (
                "principal before since",
                "2023-07-10T12:00:00Z",
                None,
                Some("deploy-bot"),
                None,
            ),
            (
                "key wins over principal",
                "2023-07-10T12:30:00Z",
                Some("AKIALEAKED3"),
                Some("deploy-bot"),
                Some(3),
            ),
            ("no identity", "2023-07-10T12:30:00Z", None, None, None),
        ];
        let matcher = matcher();
        for (case, time, key, name, expected) in cases {
            assert_eq!(
                matcher.credential_for(&event(time, key, name)),
                expected,
                "{case}"
            );
        }
    }

    #[test]
    fn empty_credentials_match_nothing() {
        let matcher = CredentialMatcher::new(&[], at("2000-01-01T00:00:00Z"));
        let event = event("2023-07-10T12:30:00Z", Some("AKIA1"), Some("alice"));
        assert_eq!(matcher.credential_for(&event), None);
    }
}
